package cluster

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Credentials say how to reach a cluster: exactly one of InCluster,
// KubeconfigPath or Kubeconfig.
type Credentials struct {
	// InCluster uses the ServiceAccount of the Pod promobot runs in.
	InCluster bool
	// KubeconfigPath is a kubeconfig file on promobot's host.
	KubeconfigPath string
	// Kubeconfig is a kubeconfig's content, e.g. read from a Secret by the
	// caller. Content is not the operator's own file: its users may not run
	// commands (exec plugins), use auth providers or read token files on
	// promobot's host (see CheckKubeconfig).
	Kubeconfig []byte
	// Context selects a kubeconfig context; default the current context.
	Context string
}

// RESTConfigFor builds the client configuration the credentials describe.
// It reads the kubeconfig file (if any) but contacts no server.
func RESTConfigFor(creds Credentials) (*rest.Config, error) {
	sources := 0
	for _, set := range []bool{creds.InCluster, creds.KubeconfigPath != "", len(creds.Kubeconfig) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, errors.New("cluster credentials: set exactly one of in-cluster, kubeconfig file or kubeconfig content")
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: creds.Context}
	switch {
	case creds.InCluster:
		if creds.Context != "" {
			return nil, errors.New("cluster credentials: a context applies only to a kubeconfig")
		}
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("cluster credentials in-cluster: %w", err)
		}
		return cfg, nil
	case creds.KubeconfigPath != "":
		loader := &clientcmd.ClientConfigLoadingRules{ExplicitPath: creds.KubeconfigPath}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loader, overrides).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("cluster credentials kubeconfig %s: %w", creds.KubeconfigPath, err)
		}
		return cfg, nil
	default:
		kc, err := clientcmd.Load(creds.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("cluster credentials kubeconfig content: %w", err)
		}
		if err := CheckKubeconfig(kc); err != nil {
			return nil, fmt.Errorf("cluster credentials kubeconfig content: %w", err)
		}
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*kc, creds.Context, overrides, nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("cluster credentials kubeconfig content: %w", err)
		}
		return cfg, nil
	}
}

// CheckKubeconfig refuses a kubeconfig whose users would make promobot run
// a command (exec plugins), call an auth provider or read a token file from
// its host: a kubeconfig that is not the operator's own file must carry its
// credentials inline. Every user is checked, not only the current
// context's, so no context switch can reach one.
func CheckKubeconfig(kc *clientcmdapi.Config) error {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(kc.AuthInfos)) {
		u := kc.AuthInfos[name]
		if u == nil {
			continue
		}
		if u.Exec != nil {
			problems = append(problems, fmt.Sprintf("user %q runs a command (exec %q)", name, u.Exec.Command))
		}
		if u.AuthProvider != nil {
			problems = append(problems, fmt.Sprintf("user %q uses the auth provider %q", name, u.AuthProvider.Name))
		}
		if u.TokenFile != "" {
			problems = append(problems, fmt.Sprintf("user %q reads a token file", name))
		}
		if u.ClientCertificate != "" || u.ClientKey != "" {
			problems = append(problems, fmt.Sprintf("user %q reads a client certificate or key file", name))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(kc.Clusters)) {
		if c := kc.Clusters[name]; c != nil && c.CertificateAuthority != "" {
			problems = append(problems, fmt.Sprintf("cluster %q reads a certificate authority file", name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("refused: %s; put credentials inline (token, client-certificate-data, certificate-authority-data)", strings.Join(problems, ", "))
	}
	return nil
}
