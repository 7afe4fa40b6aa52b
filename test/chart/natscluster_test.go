package chart_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
	"github.com/promobot/promobot/test/natscluster"
	"github.com/promobot/promobot/test/proc"
	"github.com/promobot/promobot/webhook"
)

// TestChartExternalNATSCluster installs the chart with its scale-out values
// (nats.mode external, the URLs of a real three-node NATS cluster, its nkey
// in nats.credsSecret, roles.split) and runs each Deployment's container as
// its pod would run it: the rendered args and env, the Secrets it mounts
// written where it mounts them (read back from the cluster, as the kubelet
// would), and for the applier the token of its own ServiceAccount. Pods do
// not run in the harness, so two things differ from a pod: each process
// listens on a free loopback port instead of :8080, and the applier reaches
// the API server through a kubeconfig holding its ServiceAccount's token
// instead of the mounted one.
//
// Every role connects to the cluster with the chart's credentials, the bus
// is provisioned with three replicas, and a signed delivery sent to the
// webhook Deployment's process is stored and handled by the promoter
// Deployment's process.
func TestChartExternalNATSCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nc := natscluster.Start(t, 3)
	gh, err := githubapi.New(githubapi.Options{Dir: t.TempDir(), WebhookSecret: "chart-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })
	ns := cluster.Namespace(t)
	seed, err := os.ReadFile(nc.SeedFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]map[string][]byte{
		"promobot-github": {"private-key.pem": gh.AppPrivateKeyPEM(), "webhook-secret": []byte("chart-secret")},
		"promobot-nats":   {"nats.nk": seed},
	} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
		if _, err := cluster.Client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	values := writeValues(t, map[string]any{
		"github": map[string]any{"appId": gh.AppID(), "apiURL": gh.URL(), "existingSecret": "promobot-github"},
		"nats":   map[string]any{"mode": "external", "url": nc.URL(), "credsSecret": "promobot-nats", "credsKey": "nats.nk", "credsFormat": "nkey"},
		"roles":  map[string]any{"split": true},
	})
	if out, err := helm(ctx, "install", "promobot", chartDir, "--kubeconfig", cluster.Kubeconfig, "--namespace", ns, "--values", values); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	out, err := helm(ctx, "template", "promobot", chartDir, "--namespace", ns, "--values", values)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildPromobot(t)
	urls := map[string]string{}
	for _, d := range of[*appsv1.Deployment](parseManifest(t, out)) {
		urls[d.Name] = runPod(t, ctx, bin, ns, d)
	}
	if len(urls) != 3 {
		t.Fatalf("Deployments %v, want one per role", urls)
	}

	conn := nc.Connect(t)
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{events.StreamGitHub, events.StreamFacts} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("stream %s has %d replicas, want 3 on the cluster", name, got)
		}
	}

	body := `{"action":"deleted","comment":{"id":1,"body":"ok"},"issue":{"number":1},"repository":{"name":"gitops","full_name":"acme/gitops","owner":{"login":"acme"}},"sender":{"login":"dev","id":7}}`
	req, _ := http.NewRequest(http.MethodPost, urls["promobot-webhook"]+"/webhook", strings.NewReader(body))
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-GitHub-Delivery", "chart-delivery-1")
	req.Header.Set("X-Hub-Signature-256", webhook.Sign([]byte("chart-secret"), []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("delivery to the webhook Deployment: %s, want 202", resp.Status)
	}
	kit.Eventually(t, time.Minute, "the promoter Deployment's process to handle the delivery", func() (bool, string) {
		ok, left, err := kit.ConsumerCaughtUp(ctx, js, events.StreamGitHub, "promoter")
		if err != nil {
			return false, err.Error()
		}
		return ok, left
	})
}

// buildPromobot builds the promobot binary for the test.
func buildPromobot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "promobot")
	if err := kit.BuildPromobot(bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// runPod runs the container of Deployment d as its pod would run in
// namespace ns (see TestChartExternalNATSCluster for the two differences)
// and returns its HTTP base URL once it is ready.
func runPod(t *testing.T, ctx context.Context, bin, ns string, d *appsv1.Deployment) string {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := container(d)
	root := t.TempDir()
	// Each volume as the kubelet would mount it.
	local := map[string]string{}
	for _, v := range pod.Volumes {
		dir := filepath.Join(root, v.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		switch {
		case v.EmptyDir != nil:
		case v.Secret != nil:
			s, err := cluster.Client.CoreV1().Secrets(ns).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("%s: volume %s: %v", d.Name, v.Name, err)
			}
			for _, item := range v.Secret.Items {
				if err := os.WriteFile(filepath.Join(dir, item.Path), s.Data[item.Key], 0o400); err != nil {
					t.Fatal(err)
				}
			}
		default:
			t.Fatalf("%s: volume %s of a kind this test does not mount", d.Name, v.Name)
		}
		local[v.Name] = dir
	}
	var mounts []string // mountPath, local dir, ...
	for _, m := range c.VolumeMounts {
		mounts = append(mounts, m.MountPath, local[m.Name])
	}
	inPod := strings.NewReplacer(mounts...)

	addr := freeLoopback(t)
	var args []string
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--listen=") {
			a = "--listen=" + addr
		}
		args = append(args, inPod.Replace(a))
	}
	if pod.AutomountServiceAccountToken != nil && *pod.AutomountServiceAccountToken {
		cfg, err := cluster.ServiceAccountConfig(ctx, ns, pod.ServiceAccountName)
		if err != nil {
			t.Fatal(err)
		}
		kubeconfig := filepath.Join(root, "kubeconfig")
		if err := kube.WriteKubeconfig(kubeconfig, cfg); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--kubeconfig="+kubeconfig)
	}
	env := []string{"HOME=" + root, "PATH=" + os.Getenv("PATH")}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env = append(env, e.Name+"="+inPod.Replace(e.Value))
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env = append(env, e.Name+"="+ns)
		default:
			t.Fatalf("%s: env %s from a source this test does not provide", d.Name, e.Name)
		}
	}
	logPath := filepath.Join(root, "promobot.log")
	p, err := proc.Start(d.Name, bin, logPath, args, env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		if t.Failed() {
			t.Logf("%s log tail:\n%s", d.Name, p.LogTail())
		}
	})
	url := "http://" + addr
	kit.Eventually(t, 30*time.Second, d.Name+" ready", func() (bool, string) {
		if !p.Running() {
			t.Fatalf("%s exited (%v):\n%s", d.Name, p.Err(), p.LogTail())
		}
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return url
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ports, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0]))
}
