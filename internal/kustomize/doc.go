// Package kustomize owns everything promobot does with Kustomize: rendering
// an overlay in a sandbox (Render), the files an overlay's render depends on
// (Dependencies, Affected), splitting a render into objects (Resources,
// Objects), and editing the images: of a kustomization file without
// reformatting it (ReadImages, SetImages).
//
// Every kustomization file name kustomize accepts works everywhere:
// kustomization.yaml, kustomization.yml and Kustomization (FindKustomization).
package kustomize
