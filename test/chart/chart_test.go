package chart_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/promobot/promobot/internal/project"
	"github.com/promobot/promobot/test/kit"
)

// names are the release and namespaces a case renders or installs into.
type names struct {
	Release   string
	Namespace string   // the release namespace
	Allowed   []string // namespaces given to the applier (scope namespaces)
	Other     string   // a namespace given to nobody
}

// goldenNames are used for the golden renderings, so they read like a real
// install and do not change from run to run.
var goldenNames = names{Release: "promobot", Namespace: "promobot", Allowed: []string{"team-a", "team-b"}, Other: "elsewhere"}

// deploymentWant is what a user expects of one rendered Deployment.
type deploymentWant struct {
	Replicas       int32
	Roles          []string
	Strategy       appsv1.DeploymentStrategyType // "" leaves Kubernetes' default (RollingUpdate)
	ServiceAccount string
	// Bus is how the pod reaches the event bus: "pvc:<claim>" or
	// "emptyDir" for the embedded bus's data volume, or the --nats-url.
	Bus       string
	NATSCreds string // the Secret mounted for --nats-creds, if any
	// Clusters are the applier's --cluster-kubeconfig flags, with the
	// Secret key each kubeconfig file is mounted from.
	Clusters []string
	// Projects is where --projects-file comes from ("" without one), and
	// whether promobot accepts it.
	Projects string
	// OwnNamespace: the applier knows the release namespace
	// (POD_NAMESPACE from the downward API), never a destination.
	OwnNamespace bool
	Resources    corev1.ResourceRequirements
}

type chartCase struct {
	name        string
	values      func(n names) map[string]any
	objects     func(n names) []string
	deployments map[string]deploymentWant
	// webhookURL is the URL NOTES.txt tells the user to give GitHub.
	webhookURL func(n names) string
	// access is what each ServiceAccount may and may not do in the cluster.
	access func(n names) []access
	// actions are real requests made as the applier after install.
	actions func(t *testing.T, n names)
}

func github(extra map[string]any) map[string]any {
	g := map[string]any{"appId": 12345, "existingSecret": "promobot-github"}
	for k, v := range extra {
		g[k] = v
	}
	return g
}

var allRoles = []string{"webhook", "applier", "promoter"}

func clusterRBAC(n names) []string {
	return []string{
		"ClusterRole/" + n.Namespace + "-promobot-applier",
		"ClusterRoleBinding/" + n.Namespace + "-promobot-applier",
	}
}

var chartCases = []chartCase{
	{
		name: "all-in-one-embedded",
		values: func(names) map[string]any {
			return map[string]any{"github": github(nil)}
		},
		objects: func(n names) []string {
			return append(clusterRBAC(n),
				"Deployment/promobot", "PersistentVolumeClaim/promobot-data", "Service/promobot", "ServiceAccount/promobot")
		},
		deployments: map[string]deploymentWant{
			"promobot": {Replicas: 1, Roles: allRoles, Strategy: appsv1.RecreateDeploymentStrategyType, ServiceAccount: "promobot", Bus: "pvc:promobot-data", OwnNamespace: true},
		},
		webhookURL: func(n names) string { return "http://promobot." + n.Namespace + ".svc:80/webhook" },
		access:     func(n names) []access { return applierClusterAccess("promobot", n) },
		actions:    applierClusterActions("promobot"),
	},
	{
		name: "split-external",
		values: func(names) map[string]any {
			return map[string]any{
				"github": github(map[string]any{"apiURL": "https://github.example.com/api/v3/"}),
				"nats":   map[string]any{"mode": "external", "url": "nats://nats.nats.svc:4222", "credsSecret": "promobot-nats", "streamReplicas": 3},
				"applier": map[string]any{
					"clusters": []any{
						map[string]any{"server": "https://prod.example.com:6443", "secretName": "cluster-prod"},
						map[string]any{"server": "edge", "secretName": "cluster-edge", "key": "config", "context": "edge-admin"},
					},
					"projects": map[string]any{"projects": []any{map[string]any{
						"name":  "payments",
						"repos": []any{"acme/payments", "acme/payments-*"},
						"destinations": []any{
							map[string]any{"cluster": "in-cluster", "namespace": "payments-*"},
							map[string]any{"cluster": "https://prod.example.com:6443", "namespace": "payments"},
						},
						"clusterResources": []any{map[string]any{"group": "", "kind": "Namespace"}},
					}}},
				},
				"roles": map[string]any{
					"split":    true,
					"webhook":  map[string]any{"replicas": 3, "resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}}},
					"applier":  map[string]any{"replicas": 2, "resources": map[string]any{"requests": map[string]any{"cpu": "500m", "memory": "512Mi"}, "limits": map[string]any{"memory": "1Gi"}}},
					"promoter": map[string]any{"replicas": 2},
				},
			}
		},
		objects: func(n names) []string {
			return append(clusterRBAC(n), "ConfigMap/promobot-projects",
				"Deployment/promobot-applier", "Deployment/promobot-promoter", "Deployment/promobot-webhook",
				"Service/promobot",
				"ServiceAccount/promobot-applier", "ServiceAccount/promobot-promoter", "ServiceAccount/promobot-webhook")
		},
		deployments: map[string]deploymentWant{
			"promobot-webhook": {Replicas: 3, Roles: []string{"webhook"}, ServiceAccount: "promobot-webhook", Bus: "nats://nats.nats.svc:4222", NATSCreds: "promobot-nats",
				Resources: resources("100m", "64Mi", "")},
			"promobot-applier": {Replicas: 2, Roles: []string{"applier"}, ServiceAccount: "promobot-applier", Bus: "nats://nats.nats.svc:4222", NATSCreds: "promobot-nats",
				Clusters: []string{
					"https://prod.example.com:6443 <- Secret cluster-prod key kubeconfig",
					"edge <- Secret cluster-edge key config context edge-admin",
				},
				Projects:     "ConfigMap promobot-projects key projects.yaml: accepted",
				OwnNamespace: true,
				Resources:    resources("500m", "512Mi", "1Gi")},
			"promobot-promoter": {Replicas: 2, Roles: []string{"promoter"}, ServiceAccount: "promobot-promoter", Bus: "nats://nats.nats.svc:4222", NATSCreds: "promobot-nats"},
		},
		webhookURL: func(n names) string { return "http://promobot." + n.Namespace + ".svc:80/webhook" },
		access: func(n names) []access {
			return slices.Concat(applierClusterAccess("promobot-applier", n), noAccess("promobot-webhook", n), noAccess("promobot-promoter", n))
		},
		actions: applierClusterActions("promobot-applier"),
	},
	{
		name: "applier-namespaces",
		values: func(n names) map[string]any {
			return map[string]any{
				"github": github(nil),
				"applier": map[string]any{"rbac": map[string]any{
					"scope":      "namespaces",
					"namespaces": n.Allowed,
				}},
			}
		},
		objects: func(n names) []string {
			return []string{
				"ClusterRole/" + n.Namespace + "-promobot-applier-namespaces",
				"ClusterRoleBinding/" + n.Namespace + "-promobot-applier-namespaces",
				"Deployment/promobot", "PersistentVolumeClaim/promobot-data",
				"Role/" + n.Allowed[0] + "/promobot-applier", "Role/" + n.Allowed[1] + "/promobot-applier",
				"RoleBinding/" + n.Allowed[0] + "/promobot-applier", "RoleBinding/" + n.Allowed[1] + "/promobot-applier",
				"Service/promobot", "ServiceAccount/promobot",
			}
		},
		deployments: map[string]deploymentWant{
			"promobot": {Replicas: 1, Roles: allRoles, Strategy: appsv1.RecreateDeploymentStrategyType, ServiceAccount: "promobot", Bus: "pvc:promobot-data", OwnNamespace: true},
		},
		webhookURL: func(n names) string { return "http://promobot." + n.Namespace + ".svc:80/webhook" },
		access:     func(n names) []access { return applierNamespacesAccess("promobot", n) },
		actions:    applierNamespacesActions("promobot"),
	},
	{
		name: "ingress-tls",
		values: func(names) map[string]any {
			return map[string]any{
				"github": github(nil),
				"ingress": map[string]any{
					"enabled": true, "className": "nginx", "host": "promobot.example.com",
					"annotations": map[string]any{"cert-manager.io/cluster-issuer": "letsencrypt"},
					"tls":         map[string]any{"enabled": true, "secretName": "promobot-tls"},
				},
				"nats": map[string]any{"persistence": map[string]any{"enabled": false}},
			}
		},
		objects: func(n names) []string {
			return append(clusterRBAC(n), "Deployment/promobot", "Ingress/promobot", "Service/promobot", "ServiceAccount/promobot")
		},
		deployments: map[string]deploymentWant{
			"promobot": {Replicas: 1, Roles: allRoles, Strategy: appsv1.RecreateDeploymentStrategyType, ServiceAccount: "promobot", Bus: "emptyDir", OwnNamespace: true},
		},
		webhookURL: func(names) string { return "https://promobot.example.com/webhook" },
	},
	{
		// A webhook receiver alone needs nothing but the webhook secret and
		// gets no Kubernetes rights at all.
		name: "webhook-only-external",
		values: func(names) map[string]any {
			return map[string]any{
				"github":       map[string]any{"existingSecret": "promobot-github"},
				"nats":         map[string]any{"mode": "external", "url": "nats://nats.nats.svc:4222"},
				"replicaCount": 3,
				"roles":        map[string]any{"applier": map[string]any{"enabled": false}, "promoter": map[string]any{"enabled": false}},
				"service":      map[string]any{"type": "LoadBalancer"},
			}
		},
		objects: func(names) []string {
			return []string{"Deployment/promobot", "Service/promobot", "ServiceAccount/promobot"}
		},
		deployments: map[string]deploymentWant{
			"promobot": {Replicas: 3, Roles: []string{"webhook"}, ServiceAccount: "promobot", Bus: "nats://nats.nats.svc:4222"},
		},
		webhookURL: func(names) string { return "http://EXTERNAL-IP:80/webhook" },
		access:     func(n names) []access { return noAccess("promobot", n) },
	},
}

func resources(cpu, memory, memoryLimit string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
	}}
	if memoryLimit != "" {
		r.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memoryLimit)}
	}
	return r
}

// TestChart lints, renders and installs each supported combination of
// values, and checks what a platform engineer would check.
func TestChart(t *testing.T) {
	for _, tc := range chartCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			// Lint and render with fixed names, compared with the golden file.
			goldenValues := writeValues(t, tc.values(goldenNames))
			if out, err := helm(ctx, "lint", "--strict", chartDir, "--namespace", goldenNames.Namespace, "--values", goldenValues); err != nil {
				t.Fatalf("helm lint: %v\n%s", err, out)
			}
			rendered, err := helm(ctx, "template", goldenNames.Release, chartDir, "--namespace", goldenNames.Namespace, "--values", goldenValues)
			if err != nil {
				t.Fatal(err)
			}
			kit.Golden(t, filepath.Join("testdata", "render", tc.name+".yaml"), rendered)

			// Render for the real install and check the objects.
			n := names{
				Release:   "promobot",
				Namespace: cluster.Namespace(t),
				Allowed:   []string{cluster.Namespace(t), cluster.Namespace(t)},
				Other:     cluster.Namespace(t),
			}
			valuesFile := writeValues(t, tc.values(n))
			out, err := helm(ctx, "template", n.Release, chartDir, "--namespace", n.Namespace, "--values", valuesFile)
			if err != nil {
				t.Fatal(err)
			}
			m := parseManifest(t, out)
			if diff := cmp.Diff(sorted(tc.objects(n)), m.refs(n.Namespace)); diff != "" {
				t.Errorf("rendered objects (-want +got):\n%s", diff)
			}
			checkDeployments(t, m, tc.deployments)
			checkPods(t, m)
			checkService(t, m)
			checkServiceAccounts(t, m)
			checkNoSecrets(t, m)
			checkIngress(t, m)

			// Install for real, read back, and exercise admission and RBAC.
			prepareNamespaces(t, ctx, n)
			if _, err := helm(ctx, "install", n.Release, chartDir, "--kubeconfig", cluster.Kubeconfig, "--namespace", n.Namespace, "--values", valuesFile); err != nil {
				t.Fatal(err)
			}
			checkInstalled(t, ctx, n, m)
			checkNotes(t, ctx, tc, n)
			checkPodSecurity(t, ctx, n, m)
			if tc.access != nil {
				checkAccess(t, ctx, n, tc.access(n))
			}
			if tc.actions != nil {
				tc.actions(t, n)
			}
			// An upgrade with the same values changes nothing immutable.
			if _, err := helm(ctx, "upgrade", n.Release, chartDir, "--kubeconfig", cluster.Kubeconfig, "--namespace", n.Namespace, "--values", valuesFile); err != nil {
				t.Errorf("helm upgrade with unchanged values: %v", err)
			}
		})
	}
}

func writeValues(t *testing.T, values map[string]any) string {
	t.Helper()
	raw, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// checkDeployments compares each Deployment with what the case wants: the
// replicas, the roles it runs, and how it reaches the event bus.
func checkDeployments(t *testing.T, m manifest, want map[string]deploymentWant) {
	t.Helper()
	got := map[string]deploymentWant{}
	for _, d := range of[*appsv1.Deployment](m) {
		c := container(d)
		spec := &d.Spec.Template.Spec
		w := deploymentWant{
			Replicas:       *d.Spec.Replicas,
			Roles:          roles(d),
			Strategy:       d.Spec.Strategy.Type,
			ServiceAccount: spec.ServiceAccountName,
			Resources:      c.Resources,
		}
		if url, ok := flagValue(c.Args, "nats-url"); ok {
			w.Bus = url
			if creds, ok := flagValue(c.Args, "nats-creds"); ok {
				if v := volume(spec, mounts(c)[filepath.Dir(creds)]); v != nil && v.Secret != nil {
					w.NATSCreds = v.Secret.SecretName
				}
			}
		} else if dir, ok := flagValue(c.Args, "data-dir"); ok {
			switch v := volume(spec, mounts(c)[dir]); {
			case v == nil:
				w.Bus = "data dir " + dir + " not on a volume"
			case v.PersistentVolumeClaim != nil:
				w.Bus = "pvc:" + v.PersistentVolumeClaim.ClaimName
			case v.EmptyDir != nil:
				w.Bus = "emptyDir"
			}
		}
		for _, a := range c.Args {
			v, ok := strings.CutPrefix(a, "--cluster-kubeconfig=")
			if !ok {
				continue
			}
			server, file, _ := strings.Cut(v, "=")
			file, kctx, _ := strings.Cut(file, "#")
			from := "not mounted"
			if vol := volume(spec, mounts(c)[filepath.Dir(file)]); vol != nil && vol.Secret != nil {
				for _, it := range vol.Secret.Items {
					if it.Path == filepath.Base(file) {
						from = "Secret " + vol.Secret.SecretName + " key " + it.Key
					}
				}
			}
			if kctx != "" {
				from += " context " + kctx
			}
			w.Clusters = append(w.Clusters, server+" <- "+from)
		}
		if file, ok := flagValue(c.Args, "projects-file"); ok {
			w.Projects = "not mounted"
			if vol := volume(spec, mounts(c)[filepath.Dir(file)]); vol != nil && vol.ConfigMap != nil {
				w.Projects = "ConfigMap " + vol.ConfigMap.Name + " not rendered"
				for _, cm := range of[*corev1.ConfigMap](m) {
					if cm.Name != vol.ConfigMap.Name {
						continue
					}
					key := filepath.Base(file)
					w.Projects = "ConfigMap " + cm.Name + " key " + key
					if _, err := project.Parse([]byte(cm.Data[key]), "promobot"); err != nil {
						w.Projects += ": refused: " + err.Error()
					} else {
						w.Projects += ": accepted"
					}
				}
			}
		}
		for _, e := range c.Env {
			if e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace" {
				w.OwnNamespace = true
			}
		}
		got[d.Name] = w
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deployments (-want +got):\n%s", diff)
	}
}

// podCheck is what every promobot container must look like, whatever its roles.
type podCheck struct {
	PodRunAsNonRoot, RunAsNonRoot, ReadOnlyRootFS, NoPrivilegeEscalation bool
	RunAsUser                                                            int64
	Seccomp                                                              corev1.SeccompProfileType
	DropCapabilities                                                     []corev1.Capability
	Liveness, Readiness, Startup                                         string
	TmpIsEmptyDir                                                        bool
	TMPDIR                                                               string
	// APIToken: only pods running the applier get a Kubernetes token.
	APIToken bool
	// SecretKeys are the keys of the GitHub Secret the pod can read, and
	// SecretFlags the flags pointing at them.
	SecretKeys  []string
	SecretFlags []string
	AppIDEnv    bool
}

func wantPod(podRoles []string) podCheck {
	p := podCheck{
		PodRunAsNonRoot: true, RunAsNonRoot: true, ReadOnlyRootFS: true, NoPrivilegeEscalation: true,
		RunAsUser: 65532, Seccomp: corev1.SeccompProfileTypeRuntimeDefault,
		DropCapabilities: []corev1.Capability{"ALL"},
		Liveness:         "GET /healthz http", Readiness: "GET /readyz http", Startup: "GET /healthz http",
		TmpIsEmptyDir: true, TMPDIR: "/tmp",
		APIToken: slices.Contains(podRoles, "applier"),
	}
	if slices.Contains(podRoles, "webhook") {
		p.SecretKeys = append(p.SecretKeys, "webhook-secret")
		p.SecretFlags = append(p.SecretFlags, "--webhook-secret-file=/etc/promobot/github/webhook-secret")
	}
	if slices.Contains(podRoles, "applier") || slices.Contains(podRoles, "promoter") {
		p.SecretKeys = append(p.SecretKeys, "private-key.pem")
		p.SecretFlags = append(p.SecretFlags, "--private-key-file=/etc/promobot/github/private-key.pem")
		p.AppIDEnv = true
	}
	return p
}

func probe(p *corev1.Probe) string {
	if p == nil || p.HTTPGet == nil {
		return "none"
	}
	return "GET " + p.HTTPGet.Path + " " + p.HTTPGet.Port.String()
}

// checkPods checks the restricted security context, probes, /tmp, and that
// each pod sees only the secrets its roles need.
func checkPods(t *testing.T, m manifest) {
	t.Helper()
	for _, d := range of[*appsv1.Deployment](m) {
		spec := &d.Spec.Template.Spec
		c := container(d)
		psc, sc := spec.SecurityContext, c.SecurityContext
		got := podCheck{
			PodRunAsNonRoot:       psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot,
			RunAsNonRoot:          sc.RunAsNonRoot != nil && *sc.RunAsNonRoot,
			ReadOnlyRootFS:        sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem,
			NoPrivilegeEscalation: sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
			Liveness:              probe(c.LivenessProbe),
			Readiness:             probe(c.ReadinessProbe),
			Startup:               probe(c.StartupProbe),
			TMPDIR:                env(c)["TMPDIR"],
			APIToken:              spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken,
		}
		if sc.RunAsUser != nil {
			got.RunAsUser = *sc.RunAsUser
		}
		if psc != nil && psc.SeccompProfile != nil {
			got.Seccomp = psc.SeccompProfile.Type
		}
		if sc.Capabilities != nil {
			got.DropCapabilities = sc.Capabilities.Drop
		}
		if v := volume(spec, mounts(c)["/tmp"]); v != nil && v.EmptyDir != nil {
			got.TmpIsEmptyDir = true
		}
		if v := volume(spec, mounts(c)["/etc/promobot/github"]); v != nil && v.Secret != nil && v.Secret.SecretName == "promobot-github" {
			for _, it := range v.Secret.Items {
				got.SecretKeys = append(got.SecretKeys, it.Key)
			}
		}
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--webhook-secret-file=") || strings.HasPrefix(a, "--private-key-file=") {
				got.SecretFlags = append(got.SecretFlags, a)
			}
		}
		_, got.AppIDEnv = env(c)["PROMOBOT_APP_ID"]
		if diff := cmp.Diff(wantPod(roles(d)), got); diff != "" {
			t.Errorf("Deployment %s pod (-want +got):\n%s", d.Name, diff)
		}
	}
}

// checkService checks that the Service sends traffic to the pods that run
// the webhook receiver, and only to them.
func checkService(t *testing.T, m manifest) {
	t.Helper()
	var want, got []string
	for _, d := range of[*appsv1.Deployment](m) {
		if slices.Contains(roles(d), "webhook") {
			want = append(want, d.Name)
		}
	}
	for _, s := range of[*corev1.Service](m) {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		for _, d := range of[*appsv1.Deployment](m) {
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				got = append(got, d.Name)
			}
		}
		if s.Spec.Ports[0].TargetPort.String() != "http" {
			t.Errorf("Service %s targets port %s, want the container's http port", s.Name, s.Spec.Ports[0].TargetPort.String())
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Deployments behind the Service (-want +got):\n%s", diff)
	}
}

// checkServiceAccounts checks every pod's ServiceAccount is rendered, and
// that only the applier's carries an API token.
func checkServiceAccounts(t *testing.T, m manifest) {
	t.Helper()
	want, got := map[string]bool{}, map[string]bool{}
	for _, d := range of[*appsv1.Deployment](m) {
		want[d.Spec.Template.Spec.ServiceAccountName] = slices.Contains(roles(d), "applier")
	}
	for _, sa := range of[*corev1.ServiceAccount](m) {
		got[sa.Name] = sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ServiceAccounts and whether they mount an API token (-want +got):\n%s", diff)
	}
}

// checkNoSecrets checks that no secret value is ever in a rendered
// manifest: no Secret objects, and secret-bearing variables only by
// reference.
func checkNoSecrets(t *testing.T, m manifest) {
	t.Helper()
	for _, o := range m {
		if o.raw.GetKind() == "Secret" {
			t.Errorf("the chart renders Secret %s: secrets must come from existing Secrets", o.raw.GetName())
		}
	}
	for _, d := range of[*appsv1.Deployment](m) {
		for _, e := range container(d).Env {
			if strings.Contains(e.Name, "SECRET") || strings.Contains(e.Name, "KEY") || strings.Contains(e.Name, "TOKEN") {
				t.Errorf("Deployment %s sets %s inline", d.Name, e.Name)
			}
		}
		for _, a := range container(d).Args {
			if strings.Contains(a, "@") {
				t.Errorf("Deployment %s has credentials in an argument: %s", d.Name, a)
			}
		}
	}
}

// checkIngress checks an Ingress routes only the webhook path to the
// Service's http port.
func checkIngress(t *testing.T, m manifest) {
	t.Helper()
	services := map[string]*corev1.Service{}
	for _, s := range of[*corev1.Service](m) {
		services[s.Name] = s
	}
	for _, ing := range of[*networkingv1.Ingress](m) {
		var got []string
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				route := r.Host + p.Path + " -> " + b.Name + ":" + b.Port.Name
				if s := services[b.Name]; s == nil || s.Spec.Ports[0].Name != b.Port.Name {
					route += " (no such Service port)"
				}
				got = append(got, route)
			}
		}
		for _, tls := range ing.Spec.TLS {
			got = append(got, "tls "+strings.Join(tls.Hosts, ",")+" "+tls.SecretName)
		}
		want := []string{"promobot.example.com/webhook -> promobot:http", "tls promobot.example.com promobot-tls"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Ingress %s routes (-want +got):\n%s", ing.Name, diff)
		}
	}
}

// prepareNamespaces makes the release namespace enforce the "restricted"
// Pod Security Standard and creates the Secrets a user would have created.
func prepareNamespaces(t *testing.T, ctx context.Context, n names) {
	t.Helper()
	ns, err := cluster.Client.CoreV1().Namespaces().Get(ctx, n.Namespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := cluster.Client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	secrets := map[string]map[string]string{
		n.Namespace + "/promobot-github": {"private-key.pem": "-----BEGIN RSA PRIVATE KEY-----\ntest\n-----END RSA PRIVATE KEY-----\n", "webhook-secret": "It's a Secret to Everybody"},
		n.Namespace + "/cluster-prod":    {"kubeconfig": "apiVersion: v1\nkind: Config\n"},
		n.Other + "/cluster-prod":        {"kubeconfig": "apiVersion: v1\nkind: Config\n"},
	}
	for key, data := range secrets {
		ns, name, _ := strings.Cut(key, "/")
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
		if _, err := cluster.Client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkInstalled reads every rendered object back from the cluster, and
// checks the Deployments' containers are stored as rendered.
func checkInstalled(t *testing.T, ctx context.Context, n names, m manifest) {
	t.Helper()
	c := cluster.Client
	for _, o := range m {
		ns := o.raw.GetNamespace()
		if ns == "" && o.raw.GetKind() != "ClusterRole" && o.raw.GetKind() != "ClusterRoleBinding" {
			ns = n.Namespace
		}
		name := o.raw.GetName()
		var err error
		var meta metav1.Object
		switch o.raw.GetKind() {
		case "Deployment":
			var d *appsv1.Deployment
			d, err = c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				meta = d
				want := container(o.typed.(*appsv1.Deployment))
				got := container(d)
				if diff := cmp.Diff(want.Args, got.Args); diff != "" {
					t.Errorf("Deployment %s args in the cluster (-rendered +stored):\n%s", name, diff)
				}
				if diff := cmp.Diff(want.SecurityContext, got.SecurityContext); diff != "" {
					t.Errorf("Deployment %s securityContext in the cluster (-rendered +stored):\n%s", name, diff)
				}
			}
		case "Service":
			meta, err = c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		case "ServiceAccount":
			meta, err = c.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
		case "ConfigMap":
			meta, err = c.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		case "PersistentVolumeClaim":
			meta, err = c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		case "Ingress":
			meta, err = c.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
		case "Role":
			meta, err = c.RbacV1().Roles(ns).Get(ctx, name, metav1.GetOptions{})
		case "RoleBinding":
			meta, err = c.RbacV1().RoleBindings(ns).Get(ctx, name, metav1.GetOptions{})
		case "ClusterRole":
			var cr *rbacv1.ClusterRole
			cr, err = c.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				meta = cr
				if diff := cmp.Diff(o.typed.(*rbacv1.ClusterRole).Rules, cr.Rules); diff != "" {
					t.Errorf("ClusterRole %s rules in the cluster (-rendered +stored):\n%s", name, diff)
				}
			}
		case "ClusterRoleBinding":
			meta, err = c.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{})
		default:
			t.Errorf("no read-back for %s", o.ref(n.Namespace))
			continue
		}
		if err != nil {
			t.Errorf("%s after helm install: %v", o.ref(n.Namespace), err)
			continue
		}
		if got := meta.GetLabels()["app.kubernetes.io/instance"]; got != n.Release {
			t.Errorf("%s instance label %q, want %q", o.ref(n.Namespace), got, n.Release)
		}
	}
}

// checkNotes compares the installed release's NOTES with the golden file
// (namespaces replaced by the golden names) and checks the webhook URL.
func checkNotes(t *testing.T, ctx context.Context, tc chartCase, n names) {
	t.Helper()
	notes, err := helm(ctx, "get", "notes", n.Release, "--kubeconfig", cluster.Kubeconfig, "--namespace", n.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if url := tc.webhookURL(n); !strings.Contains(notes, "\n     "+url+"\n") && !strings.Contains(notes, "\n     "+url+"   ") {
		t.Errorf("NOTES do not give the webhook URL %s:\n%s", url, notes)
	}
	r := strings.NewReplacer(n.Namespace, goldenNames.Namespace, n.Allowed[0], goldenNames.Allowed[0], n.Allowed[1], goldenNames.Allowed[1])
	kit.Golden(t, filepath.Join("testdata", "notes", tc.name+".txt"), r.Replace(notes))
}
