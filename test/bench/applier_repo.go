package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/render"
)

// The repositories the applier section generates: Argo CD Applications
// under apps/, one kustomization directory per app, each app in its own
// namespace created by CreateNamespace=true, as the seed repository does.

// application is an Argo CD Application for the app at path.
func application(name, repoURL, path, namespace string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: %s
  namespace: argocd
spec:
  project: default
  source:
    repoURL: '%s'
    targetRevision: main
    path: %s
  destination:
    server: 'https://kubernetes.default.svc'
    namespace: %s
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
`, name, repoURL, path, namespace)
}

// rootApplication is the App of Apps pointing at apps/; the applier
// understands it and does not apply it as a child.
func rootApplication(repoURL string) string {
	return fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: root-app
  namespace: argocd
spec:
  project: default
  source:
    repoURL: '%s'
    targetRevision: main
    path: apps
  destination:
    server: 'https://kubernetes.default.svc'
    namespace: argocd
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
`, repoURL)
}

func deployment(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      serviceAccountName: %[1]s
      containers:
        - name: %[1]s
          image: %[2]s
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: %[1]s-env
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
`, name, image)
}

func service(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  labels:
    app: %[1]s
spec:
  selector:
    app: %[1]s
  ports:
    - name: http
      port: 80
      targetPort: http
`, name)
}

// configMap is a ConfigMap of a few settings, the bulk of a typical app.
func configMap(app, name string, i int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  labels:
    app: %s
data:
  LOG_LEVEL: info
  FEATURE_%d: "true"
  UPSTREAM_URL: http://upstream-%d.example.svc:8080
  settings.yaml: |
    pool: %d
    timeout: 30s
    retries: 3
`, name, app, i, i, 10+i%7)
}

// latencyApp is the app the push → applied figure measures: 1 Deployment,
// 1 Service and 98 ConfigMaps, with an annotation on every object that each
// push changes (so every object, and the Deployment's pod template, change).
const (
	latencyApp       = "web"
	latencyNamespace = "web"
	latencyObjects   = 100
)

func latencyKustomization(revision int) string {
	return fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: %s
resources:
  - deployment.yaml
  - service.yaml
  - config.yaml
commonAnnotations:
  bench.promobot.dev/revision: "%d"
`, latencyNamespace, revision)
}

// latencyRepo is the repository of the push → applied figure.
func latencyRepo(repoURL string) map[string]string {
	var cms []string
	for i := range latencyObjects - 2 {
		cms = append(cms, configMap(latencyApp, fmt.Sprintf("%s-config-%02d", latencyApp, i), i))
	}
	cms[0] = configMap(latencyApp, latencyApp+"-env", 0)
	return map[string]string{
		"README.md":              "# cluster-config\n",
		"apps/root-app.yaml":     rootApplication(repoURL),
		"apps/web.yaml":          application(latencyApp, repoURL, latencyApp, latencyNamespace),
		"web/kustomization.yaml": latencyKustomization(0),
		"web/deployment.yaml":    deployment(latencyApp, "ghcr.io/my-org/web:1.0.0"),
		"web/service.yaml":       service(latencyApp),
		"web/config.yaml":        strings.Join(cms, "---\n"),
		"web/README.md":          "The web frontend.\n",
		"docs/runbook.md":        "# Runbook\n",
	}
}

// fleetObjectsPerApp is how many objects each app of the fleet renders:
// a Deployment, a Service, a ServiceAccount, a Role, a RoleBinding and five
// ConfigMaps.
const fleetObjectsPerApp = 10

// fleetAppName is the i-th app of the fleet: services in two
// environments, staging and production (the -<env> suffix), each app in
// its own namespace.
func fleetAppName(i int) string {
	env := "staging"
	if i%2 == 1 {
		env = "production"
	}
	return fmt.Sprintf("svc-%03d-%s", i/2, env)
}

// fleetRepo is a repository of n apps of fleetObjectsPerApp objects each.
func fleetRepo(repoURL string, n int) map[string]string {
	files := map[string]string{
		"README.md":          "# fleet-config\n",
		"apps/root-app.yaml": rootApplication(repoURL),
	}
	for i := range n {
		name := fleetAppName(i)
		dir := "services/" + name
		files["apps/"+name+".yaml"] = application(name, repoURL, dir, name)
		files[dir+"/kustomization.yaml"] = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
  - rbac.yaml
  - config.yaml
labels:
  - pairs:
      app.kubernetes.io/part-of: ` + name + `
images:
  - name: ghcr.io/my-org/` + name + `
    newTag: 1.4.2
`
		files[dir+"/deployment.yaml"] = deployment(name, "ghcr.io/my-org/"+name+":1.0.0")
		files[dir+"/service.yaml"] = service(name)
		files[dir+"/rbac.yaml"] = fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: %[1]s-reader
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: %[1]s-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: %[1]s-reader
subjects:
  - kind: ServiceAccount
    name: %[1]s
`, name)
		cms := []string{configMap(name, name+"-env", i)}
		for j := 1; j < 5; j++ {
			cms = append(cms, configMap(name, fmt.Sprintf("%s-config-%d", name, j), i+j))
		}
		files[dir+"/config.yaml"] = strings.Join(cms, "---\n")
	}
	return files
}

// writeTree writes files (slash paths relative to dir) under dir.
func writeTree(dir string, files map[string]string) error {
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// renderFor renders the kustomization at path (relative to root) the way
// the applier does and returns it as multi-document YAML with every
// namespaced object moved to namespace, for kubectl.
func renderFor(ctx context.Context, root, path, namespace string) ([]byte, int, error) {
	rendered, err := render.App(ctx, root, gitops.App{Name: path, Path: path}, kustomize.RenderOptions{})
	if err != nil {
		return nil, 0, err
	}
	objs, err := kustomize.Objects(rendered)
	if err != nil {
		return nil, 0, err
	}
	var b strings.Builder
	for _, o := range objs {
		o.SetNamespace(namespace)
		raw, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, 0, fmt.Errorf("%s %s/%s encode: %w", path, o.GetKind(), o.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(raw)
	}
	return []byte(b.String()), len(objs), nil
}

// namespaceDoc is a Namespace manifest.
func namespaceDoc(name string) string {
	return "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
}
