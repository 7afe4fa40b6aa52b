// Package helm renders Helm charts kept in a repository as Argo CD renders
// an Application's Helm source (Render), and edits one value of a values
// file without reformatting it, for promotions (SetValue, ImagePaths).
//
// Render runs Helm's own install action in-process, as `helm template` does,
// inside promobot's sandbox: the chart and every file it reads come from the
// repository checkout (through its os.Root; links that leave it are
// refused), nothing is downloaded (dependencies render from the chart's
// vendored charts/ directory; remote and OCI charts are refused), no
// post-renderer, plugin or other program runs, and templates cannot reach a
// cluster (lookup is refused) or the network (getHostByName answers "").
package helm
