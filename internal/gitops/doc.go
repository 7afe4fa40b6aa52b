// Package gitops is promobot's model of a GitOps repository: the apps its
// Argo CD Application manifests declare, the optional .promobot.yaml that
// adds what those manifests cannot say (cluster credentials, the promotion
// pipeline, gates, who may promote), the pipeline itself, and which apps a
// set of changed files affects.
//
// Everything here is pure: it reads from an fs.FS or from bytes and returns
// data, so the applier, the promoter and the command line share one
// understanding of a repository. Reading the repository (from a tarball of a
// commit, a local checkout or the GitHub API) is the caller's job.
package gitops
