package github

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	rateLimitRemaining = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "promobot_github_rate_limit_remaining",
		Help: "Requests left in GitHub's rate-limit window, as GitHub's latest answer of that resource said (x-ratelimit-remaining); with several installations, the one answered last.",
	}, []string{"resource"})
	rateLimitLimit = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "promobot_github_rate_limit_limit",
		Help: "Requests GitHub's rate-limit window of that resource allows, as its latest answer said (x-ratelimit-limit).",
	}, []string{"resource"})
)

// rateLimitResources are the x-ratelimit-resource values GitHub documents
// ("Rate limits for the REST API"): the only values the resource label
// takes; any other is "other".
var rateLimitResources = map[string]bool{
	"core": true, "search": true, "code_search": true, "graphql": true, "integration_manifest": true,
	"dependency_snapshots": true, "dependency_sbom": true, "code_scanning_upload": true,
	"code_scanning_autofix": true, "actions_runner_registration": true, "source_import": true,
	"scim": true, "audit_log": true, "audit_log_streaming": true,
}

// observeRateLimit records the rate-limit budget a GitHub answer states;
// answers without the headers (or with values that do not parse) record
// nothing.
func observeRateLimit(h http.Header) {
	remaining, err1 := strconv.ParseInt(h.Get("X-Ratelimit-Remaining"), 10, 64)
	limit, err2 := strconv.ParseInt(h.Get("X-Ratelimit-Limit"), 10, 64)
	if err1 != nil || err2 != nil || remaining < 0 || limit <= 0 {
		return
	}
	resource := h.Get("X-Ratelimit-Resource")
	if resource == "" {
		resource = "core"
	}
	if !rateLimitResources[resource] {
		resource = "other"
	}
	rateLimitRemaining.WithLabelValues(resource).Set(float64(remaining))
	rateLimitLimit.WithLabelValues(resource).Set(float64(limit))
}
