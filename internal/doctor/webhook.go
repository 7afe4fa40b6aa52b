package doctor

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// HookConfig is the App's webhook configuration (GET /app/hook/config).
type HookConfig struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	// InsecureSSL is "0" when GitHub verifies the URL's certificate.
	InsecureSSL string `json:"insecure_ssl"`
}

// webhookCheckName names the check of the App's webhook configuration.
const webhookCheckName = "github app webhook"

// hookConfigCheck reads the App's webhook configuration and judges it.
func hookConfigCheck(ctx context.Context, c *gh.Client, o GitHubOptions) Check {
	req, err := c.NewRequest(http.MethodGet, "app/hook/config", nil)
	if err != nil {
		return fail(webhookCheckName, err.Error(), "check --github-url")
	}
	var hc struct {
		HookConfig
		// insecure_ssl is a string on GitHub, a number in some answers.
		InsecureSSL any `json:"insecure_ssl"`
	}
	if _, err := c.Do(ctx, req, &hc); err != nil {
		return fail(webhookCheckName, fmt.Sprintf("GET /app/hook/config: %v", err), "check the App's credentials")
	}
	hc.HookConfig.InsecureSSL = "0" // GitHub's default when absent
	if hc.InsecureSSL != nil {
		hc.HookConfig.InsecureSSL = fmt.Sprint(hc.InsecureSSL)
	}
	return JudgeHookConfig(hc.HookConfig, o.WebhookPath, o.WebhookURL)
}

// finding is one thing a check found; the check's status is its worst.
type finding struct {
	status     Status
	found, fix string
}

// JudgeHookConfig checks the App's webhook configuration: a URL is set, it
// is https (http only on a loopback host, a warning), its path ends in path
// (where promobot serve answers webhooks), it equals want when want is not
// "", the content type is json (promobot refuses form-encoded payloads)
// and GitHub verifies the URL's certificate (insecure_ssl "0").
func JudgeHookConfig(hc HookConfig, path, want string) Check {
	if hc.URL == "" {
		return fail(webhookCheckName, "no webhook URL: GitHub sends promobot nothing",
			fmt.Sprintf("set the App's webhook URL (the App's settings page → Webhook URL) to promobot serve's https://HOST%s and tick Active", path))
	}
	var fs []finding
	fs = append(fs, urlFindings(hc.URL, path, want)...)
	if hc.ContentType != "json" {
		fs = append(fs, finding{Fail, fmt.Sprintf("content type %q: promobot serve refuses payloads that are not JSON (400)", hc.ContentType),
			"set the App's webhook content type to application/json (PATCH /app/hook/config content_type json)"})
	}
	if hc.InsecureSSL != "0" {
		fs = append(fs, finding{Warn, "SSL verification is off (insecure_ssl " + hc.InsecureSSL + "): anyone on the path can read the payloads",
			"enable SSL verification on the App's settings page and give promobot's URL a certificate GitHub trusts"})
	}
	if len(fs) == 0 {
		return ok(webhookCheckName, fmt.Sprintf("%s, content type json, SSL verified", hc.URL))
	}
	status := Warn
	var found, fix []string
	for _, f := range fs {
		if f.status == Fail {
			status = Fail
		}
		found, fix = append(found, f.found), append(fix, f.fix)
	}
	return Check{Name: webhookCheckName, Status: status, Found: hc.URL + ": " + strings.Join(found, "; "), Fix: strings.Join(fix, "; ")}
}

// urlFindings judges the webhook URL's scheme, host and path.
func urlFindings(raw, path, want string) []finding {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return []finding{{Fail, "not an absolute URL", "set the App's webhook URL to promobot serve's https://HOST" + path}}
	}
	var fs []finding
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback(u.Hostname()):
		fs = append(fs, finding{Warn, "http on a loopback host: fine for a local try, not for GitHub",
			"serve the webhook over https (an ingress or load balancer with a certificate) and set that URL"})
	default:
		fs = append(fs, finding{Fail, fmt.Sprintf("scheme %q: GitHub would send payloads unencrypted", u.Scheme),
			"serve the webhook over https (an ingress or load balancer with a certificate) and set that URL"})
	}
	if path != "" && !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), path) {
		fs = append(fs, finding{Fail, fmt.Sprintf("path %q does not end in %s, where promobot serve answers webhooks", u.Path, path),
			"make the URL end in " + path + " (and route it to promobot serve's --listen)"})
	}
	if want != "" && strings.TrimSuffix(raw, "/") != strings.TrimSuffix(want, "/") {
		fs = append(fs, finding{Fail, "differs from --webhook-url " + want, "set the App's webhook URL to " + want + ", or pass the URL it should be"})
	}
	return fs
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
