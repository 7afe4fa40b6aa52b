package kube_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
)

var cluster *kube.Cluster

// envOrphanHelper makes the test binary, instead of running tests, start a
// cluster, write its pids to the named file and then die the way the test's
// mode (envOrphanMode) says, for TestNoStrayProcesses.
const (
	envOrphanHelper = "PROMOBOT_KUBE_ORPHAN_PIDFILE"
	envOrphanMode   = "PROMOBOT_KUBE_ORPHAN_MODE"
)

func TestMain(m *testing.M) {
	if pidFile := os.Getenv(envOrphanHelper); pidFile != "" {
		orphanHelper(pidFile, os.Getenv(envOrphanMode))
		return
	}
	kube.Main(m, &cluster)
}

func TestClusterServesServerSideApply(t *testing.T) {
	ctx := context.Background()
	t.Logf("shared cluster started in %s", cluster.StartupDuration)
	if cluster.StartupDuration > 30*time.Second {
		t.Errorf("cluster took %s to start; want seconds", cluster.StartupDuration)
	}
	ns := cluster.Namespace(t)

	deploy := appsv1ac.Deployment("api", ns).
		WithLabels(map[string]string{"app": "api"}).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(3).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "api"})).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(map[string]string{"app": "api"}).
				WithSpec(corev1ac.PodSpec().WithContainers(
					corev1ac.Container().WithName("api").WithImage("ghcr.io/acme/api:1.2.3")))))
	if _, err := cluster.Client.AppsV1().Deployments(ns).Apply(ctx, deploy, metav1.ApplyOptions{FieldManager: "kube-test"}); err != nil {
		t.Fatalf("apply deployment: %v", err)
	}

	got, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment: %v", err)
	}
	type seen struct {
		Replicas int32
		Image    string
		Managers []string
		Strategy appsv1.DeploymentStrategyType
	}
	want := seen{Replicas: 3, Image: "ghcr.io/acme/api:1.2.3", Managers: []string{"kube-test/Apply"}, Strategy: appsv1.RollingUpdateDeploymentStrategyType}
	gotSeen := seen{Replicas: *got.Spec.Replicas, Image: got.Spec.Template.Spec.Containers[0].Image, Strategy: got.Spec.Strategy.Type}
	for _, mf := range got.ManagedFields {
		gotSeen.Managers = append(gotSeen.Managers, mf.Manager+"/"+string(mf.Operation))
	}
	if diff := cmp.Diff(want, gotSeen); diff != "" {
		t.Errorf("deployment read back (-want +got):\n%s", diff)
	}
}

func TestMarkRolledOutMakesKstatusCurrent(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "w"}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "w", Image: "nginx:1.27"}}},
	}
	selector := &metav1.LabelSelector{MatchLabels: labels}
	two := int32(2)
	apps := cluster.Client.AppsV1()
	tests := []struct {
		name     string
		kind     string
		resource string
		create   func(name string) error
	}{
		{
			name: "deployment", kind: "Deployment", resource: "deployments",
			create: func(name string) error {
				_, err := apps.Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: selector, Template: template}}, metav1.CreateOptions{})
				return err
			},
		},
		{
			name: "statefulset", kind: "StatefulSet", resource: "statefulsets",
			create: func(name string) error {
				_, err := apps.StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: appsv1.StatefulSetSpec{Replicas: &two, Selector: selector, Template: template}}, metav1.CreateOptions{})
				return err
			},
		},
		{
			name: "daemonset", kind: "DaemonSet", resource: "daemonsets",
			create: func(name string) error {
				_, err := apps.DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}}, metav1.CreateOptions{})
				return err
			},
		},
		{
			name: "replicaset", kind: "ReplicaSet", resource: "replicasets",
			create: func(name string) error {
				_, err := apps.ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: appsv1.ReplicaSetSpec{Replicas: &two, Selector: selector, Template: template}}, metav1.CreateOptions{})
				return err
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "w-" + tt.name
			if err := tt.create(name); err != nil {
				t.Fatalf("create: %v", err)
			}
			gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: tt.resource}
			compute := func() string {
				t.Helper()
				u, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatalf("get: %v", err)
				}
				res, err := status.Compute(u)
				if err != nil {
					t.Fatalf("kstatus compute: %v", err)
				}
				return res.Status.String()
			}
			before := compute()
			if err := cluster.MarkRolledOut(ctx, tt.kind, ns, name); err != nil {
				t.Fatal(err)
			}
			after := compute()
			if diff := cmp.Diff([]string{"InProgress", "Current"}, []string{before, after}); diff != "" {
				t.Errorf("kstatus before/after MarkRolledOut (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTwoClustersAtOnce(t *testing.T) {
	ctx := context.Background()
	var (
		wg       sync.WaitGroup
		clusters [2]*kube.Cluster
		errs     [2]error
	)
	for i := range clusters {
		wg.Go(func() {
			clusters[i], errs[i] = kube.Start(ctx, kube.Options{})
		})
	}
	wg.Wait()
	for i, c := range clusters {
		if c != nil {
			t.Cleanup(func() {
				if err := c.Stop(); err != nil {
					t.Errorf("stop: %v", err)
				}
			})
		}
		if errs[i] != nil {
			t.Fatalf("start cluster %d: %v", i, errs[i])
		}
		t.Logf("cluster %d (%s) up in %s", i, c.Config.Host, c.StartupDuration)
	}
	a, b := clusters[0], clusters[1]
	if a.Config.Host == b.Config.Host {
		t.Fatalf("both clusters serve %s", a.Config.Host)
	}

	nsA := a.Namespace(t)
	if _, err := a.Client.CoreV1().ConfigMaps(nsA).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "only-in-a"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create configmap in a: %v", err)
	}

	type view struct {
		NamespaceInA, NamespaceInB bool
	}
	got := view{
		NamespaceInA: exists(a.Client.CoreV1().Namespaces().Get(ctx, nsA, metav1.GetOptions{})),
		NamespaceInB: exists(b.Client.CoreV1().Namespaces().Get(ctx, nsA, metav1.GetOptions{})),
	}
	if diff := cmp.Diff(view{NamespaceInA: true, NamespaceInB: false}, got); diff != "" {
		t.Errorf("isolation (-want +got):\n%s", diff)
	}
}

func exists[T any](_ T, err error) bool { return err == nil }

func TestRBACIsEnforced(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)

	aliceCfg, err := cluster.UserConfig("alice", "developers")
	if err != nil {
		t.Fatal(err)
	}
	alice := kubernetes.NewForConfigOrDie(aliceCfg)

	if _, err := cluster.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "bot"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	botCfg, err := cluster.ServiceAccountConfig(ctx, ns, "bot")
	if err != nil {
		t.Fatal(err)
	}
	bot := kubernetes.NewForConfigOrDie(botCfg)

	listConfigMaps := func(c kubernetes.Interface) string {
		_, err := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		switch {
		case err == nil:
			return "allowed"
		case apierrors.IsForbidden(err):
			return "forbidden"
		default:
			return err.Error()
		}
	}
	before := []string{listConfigMaps(alice), listConfigMaps(bot)}

	// Grant the group "developers" and the ServiceAccount read access to
	// ConfigMaps in this namespace only.
	if _, err := cluster.Client.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-configmaps"},
		Subjects: []rbacv1.Subject{
			{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "developers"},
			{Kind: "ServiceAccount", Name: "bot", Namespace: ns},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The authorizer learns of new bindings through an informer, a few
	// milliseconds after the create returns: wait for it as a client would.
	var after []string
	kit.Eventually(t, 10*time.Second, "the authorizer to learn the new binding", func() (bool, string) {
		after = []string{listConfigMaps(alice), listConfigMaps(bot)}
		return after[0] == "allowed" && after[1] == "allowed", fmt.Sprint(after)
	})

	_, err = alice.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	createByAlice := "allowed"
	if apierrors.IsForbidden(err) {
		createByAlice = "forbidden"
	} else if err != nil {
		createByAlice = err.Error()
	}

	want := [][]string{{"forbidden", "forbidden"}, {"allowed", "allowed"}, {"forbidden"}}
	if diff := cmp.Diff(want, [][]string{before, after, {createByAlice}}); diff != "" {
		t.Errorf("RBAC decisions [before bind], [after bind], [create] (-want +got):\n%s", diff)
	}
}

func TestKubeconfigWorksWithKubectl(t *testing.T) {
	kubectl := filepath.Join(binDir(t), "kubectl")
	out, err := exec.Command(kubectl, "--kubeconfig", cluster.Kubeconfig, "get", "namespace", "default", "-o", "name").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl: %v\n%s", err, out)
	}
	if diff := cmp.Diff("namespace/default", strings.TrimSpace(string(out))); diff != "" {
		t.Errorf("kubectl get namespace (-want +got):\n%s", diff)
	}
}

func binDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv(kube.EnvBinDir); d != "" {
		return d
	}
	dir, err := filepath.Abs("../../bin")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNoStrayProcesses runs this test binary as a child that starts a cluster
// and then dies without cleaning up (a panic, a SIGKILL), and checks that
// etcd and kube-apiserver died with it; and that Stop ends them at once.
func TestNoStrayProcesses(t *testing.T) {
	tests := []struct {
		name string
		mode string
	}{
		{name: "test binary panics", mode: "panic"},
		{name: "test binary is killed", mode: "sigkill"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pids")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envOrphanHelper+"="+pidFile, envOrphanMode+"="+tt.mode)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			// The helper waits on its standard input: a line tells it to
			// crash, and it exits if the input ends.
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pids := waitForPIDs(t, pidFile, 120*time.Second)
			if !allAlive(pids) {
				t.Fatalf("cluster processes %v not running while the helper lives", pids)
			}
			if tt.mode == "panic" {
				if _, err := io.WriteString(stdin, "crash\n"); err != nil {
					t.Fatal(err)
				}
			}
			if tt.mode == "sigkill" {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			err = cmd.Wait()
			if err == nil {
				t.Fatalf("helper exited cleanly; want a crash. Output:\n%s", out.String())
			}
			if tt.mode == "panic" && !strings.Contains(out.String(), "panic: helper crashes") {
				t.Errorf("helper (%v) output lacks its panic:\n%s", err, out.String())
			}
			if alive := waitGone(pids, 10*time.Second); len(alive) > 0 {
				for _, pid := range alive {
					syscall.Kill(pid, syscall.SIGKILL)
				}
				t.Fatalf("processes %v outlived their test binary", alive)
			}
		})
	}

	t.Run("Stop", func(t *testing.T) {
		c := kube.StartForTest(t)
		pids := c.PIDs()
		if len(pids) != 2 || !allAlive(pids) {
			t.Fatalf("pids %v: want 2 running", pids)
		}
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		if alive := waitGone(pids, time.Second); len(alive) > 0 {
			t.Fatalf("processes %v still running after Stop", alive)
		}
		if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cluster dir %s still present after Stop (stat: %v)", c.Dir, err)
		}
	})
}

// orphanHelper is the child side of TestNoStrayProcesses.
func orphanHelper(pidFile, mode string) {
	c, err := kube.Start(context.Background(), kube.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	var ids []string
	for _, pid := range c.PIDs() {
		ids = append(ids, strconv.Itoa(pid))
	}
	tmp := pidFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(ids, " ")), 0o600); err != nil {
		os.Exit(4)
	}
	if err := os.Rename(tmp, pidFile); err != nil {
		os.Exit(4)
	}
	// Wait for the parent: it has seen the processes alive and says crash
	// (a panic from a goroutine, as a failing test would: no deferred call
	// runs), or it kills this process.
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if mode == "panic" && err == nil && line == "crash\n" {
		// Nothing may return from here: a deferred close would run before
		// the runtime prints the panic and let os.Exit below win the race.
		never := make(chan struct{})
		go func() { panic("helper crashes") }()
		<-never
	}
	os.Exit(5)
}

func waitForPIDs(t *testing.T, path string, timeout time.Duration) []int {
	t.Helper()
	var data []byte
	kit.Eventually(t, timeout, "the helper's pid file", func() (bool, string) {
		var err error
		data, err = os.ReadFile(path)
		return err == nil, fmt.Sprint(err)
	})
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %q: %v", data, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive reports whether pid is a live process. A zombie (dead, waiting for
// its new parent to reap it) counts as gone.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func allAlive(pids []int) bool {
	for _, pid := range pids {
		if !alive(pid) {
			return false
		}
	}
	return true
}

func waitGone(pids []int, timeout time.Duration) []int {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-deadline.C:
			return left
		case <-tick.C:
		}
	}
}
