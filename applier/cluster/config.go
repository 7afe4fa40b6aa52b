package cluster

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Credentials say how to reach a cluster: exactly one of InCluster,
// KubeconfigPath or Kubeconfig.
type Credentials struct {
	// InCluster uses the ServiceAccount of the Pod promobot runs in.
	InCluster bool
	// KubeconfigPath is a kubeconfig file on promobot's host.
	KubeconfigPath string
	// Kubeconfig is a kubeconfig's content, e.g. read from a Secret by the
	// caller.
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
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*kc, creds.Context, overrides, nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("cluster credentials kubeconfig content: %w", err)
		}
		return cfg, nil
	}
}
