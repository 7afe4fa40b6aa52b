package kube

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// UserConfig returns a config that authenticates as user in groups with a
// client certificate signed by the cluster's CA: the API server sees exactly
// that user, and RBAC decides what it may do (nothing, until bound to a role).
func (c *Cluster) UserConfig(user string, groups ...string) (*rest.Config, error) {
	certPEM, keyPEM, err := c.ca.issue(user, groups, false)
	if err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.CertData = certPEM
	cfg.KeyData = keyPEM
	return cfg, nil
}

// ServiceAccountConfig returns a config that authenticates with a token of
// the ServiceAccount namespace/name (which must exist), issued by the
// TokenRequest API as the kubelet would for a Pod.
func (c *Cluster) ServiceAccountConfig(ctx context.Context, namespace, name string) (*rest.Config, error) {
	expiry := int64(3600)
	tr, err := c.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("serviceaccount %s/%s token request: %w", namespace, name, err)
	}
	cfg := rest.CopyConfig(c.Config)
	cfg.CertData = nil
	cfg.KeyData = nil
	cfg.BearerToken = tr.Status.Token
	return cfg, nil
}

// WriteKubeconfig writes a kubeconfig file (mode 0600) with one cluster, user
// and current context "promobot-test" holding cfg's server, CA and
// credentials (client certificate or bearer token).
func WriteKubeconfig(path string, cfg *rest.Config) error {
	const name = "promobot-test"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("kubeconfig %s write: %w", path, err)
	}
	return nil
}
