package helm

import (
	"errors"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// noCluster is the only cluster a render's templates can reach: every
// request to it fails with errLookup without leaving the process, so a
// template's lookup call fails the render instead of quietly answering
// nothing (what `helm template` does), which would render objects that
// differ from what the chart means to deploy.
type noCluster struct{}

// errNoCluster is returned for the clients helm never asks for in a
// client-only render.
var errNoCluster = errors.New("promobot renders without a cluster")

func (noCluster) ToRESTConfig() (*rest.Config, error) {
	return &rest.Config{Host: "https://no-cluster.invalid", Transport: refuseTransport{}}, nil
}

func (noCluster) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return nil, errNoCluster
}

func (noCluster) ToRESTMapper() (meta.RESTMapper, error) {
	return nil, errNoCluster
}

// refuseTransport fails every request.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errLookup
}
