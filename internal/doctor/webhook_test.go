package doctor_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/promobot/promobot/internal/doctor"
)

func TestJudgeHookConfig(t *testing.T) {
	const good = "https://promobot.example.com/webhook"
	tests := []struct {
		name   string
		hc     doctor.HookConfig
		want   string // --webhook-url
		status doctor.Status
		// words Found and Fix must hold when the status is not ok
		found, fix string
	}{
		{name: "https json verified", hc: doctor.HookConfig{URL: good, ContentType: "json", InsecureSSL: "0"}, status: doctor.OK},
		{name: "behind a path prefix", hc: doctor.HookConfig{URL: "https://hooks.example.com/promobot/webhook/", ContentType: "json", InsecureSSL: "0"}, status: doctor.OK},
		{name: "equals --webhook-url", hc: doctor.HookConfig{URL: good, ContentType: "json", InsecureSSL: "0"}, want: good + "/", status: doctor.OK},
		{name: "no url", hc: doctor.HookConfig{ContentType: "json", InsecureSSL: "0"}, status: doctor.Fail,
			found: "no webhook URL", fix: "https://HOST/webhook"},
		{name: "http on loopback", hc: doctor.HookConfig{URL: "http://127.0.0.1:8080/webhook", ContentType: "json", InsecureSSL: "0"}, status: doctor.Warn,
			found: "http on a loopback host", fix: "over https"},
		{name: "http on localhost", hc: doctor.HookConfig{URL: "http://localhost:8080/webhook", ContentType: "json", InsecureSSL: "0"}, status: doctor.Warn,
			found: "http on a loopback host", fix: "over https"},
		{name: "http elsewhere", hc: doctor.HookConfig{URL: "http://promobot.example.com/webhook", ContentType: "json", InsecureSSL: "0"}, status: doctor.Fail,
			found: `scheme "http"`, fix: "over https"},
		{name: "wrong path", hc: doctor.HookConfig{URL: "https://promobot.example.com/hooks", ContentType: "json", InsecureSSL: "0"}, status: doctor.Fail,
			found: `path "/hooks" does not end in /webhook`, fix: "end in /webhook"},
		{name: "a path that only ends in the word", hc: doctor.HookConfig{URL: "https://promobot.example.com/githubwebhook", ContentType: "json", InsecureSSL: "0"}, status: doctor.Fail,
			found: "does not end in /webhook", fix: "end in /webhook"},
		{name: "not --webhook-url", hc: doctor.HookConfig{URL: good, ContentType: "json", InsecureSSL: "0"}, want: "https://promobot.example.org/webhook", status: doctor.Fail,
			found: "differs from --webhook-url https://promobot.example.org/webhook", fix: "set the App's webhook URL to https://promobot.example.org/webhook"},
		{name: "form", hc: doctor.HookConfig{URL: good, ContentType: "form", InsecureSSL: "0"}, status: doctor.Fail,
			found: `content type "form"`, fix: "application/json"},
		{name: "ssl not verified", hc: doctor.HookConfig{URL: good, ContentType: "json", InsecureSSL: "1"}, status: doctor.Warn,
			found: "SSL verification is off", fix: "enable SSL verification"},
		{name: "relative", hc: doctor.HookConfig{URL: "/webhook", ContentType: "json", InsecureSSL: "0"}, status: doctor.Fail,
			found: "not an absolute URL", fix: "https://HOST/webhook"},
		{name: "every problem at once", hc: doctor.HookConfig{URL: "http://10.0.0.7/x", ContentType: "form", InsecureSSL: "1"}, status: doctor.Fail,
			found: `where promobot serve answers webhooks; content type "form"`, fix: "application/json (PATCH /app/hook/config content_type json); enable SSL verification"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := doctor.JudgeHookConfig(tt.hc, "/webhook", tt.want)
			if c.Name != "github app webhook" || c.Status != tt.status {
				t.Fatalf("%s = %s (%s), want %s", c.Name, c.Status, c.Found, tt.status)
			}
			if c.Status == doctor.OK {
				if c.Fix != "" {
					t.Errorf("an ok check with a fix: %q", c.Fix)
				}
				return
			}
			if !strings.Contains(c.Found, tt.found) || !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("found %q fix %q; want %q and %q", c.Found, c.Fix, tt.found, tt.fix)
			}
		})
	}
}

// FuzzJudgeHookConfig: whatever GitHub answers, the check is ok only for
// an https URL ending in /webhook with content type json and SSL verified,
// and a check that is not ok always says what to fix.
func FuzzJudgeHookConfig(f *testing.F) {
	f.Add("https://promobot.example.com/webhook", "json", "0")
	f.Add("http://[::1]:8080/webhook", "json", "0")
	f.Add("https://promobot.example.com/webhook?x=/webhook", "json", "0")
	f.Add("https://user:pass@promobot.example.com/%2fwebhook", "form", "1")
	f.Add("", "", "")
	f.Add("HTTPS://PROMOBOT.EXAMPLE.COM/webhook", "json", "0")
	f.Fuzz(func(t *testing.T, raw, contentType, insecure string) {
		c := doctor.JudgeHookConfig(doctor.HookConfig{URL: raw, ContentType: contentType, InsecureSSL: insecure}, "/webhook", "")
		if c.Status != doctor.OK {
			if c.Fix == "" {
				t.Fatalf("%s without a fix: %+v", c.Status, c)
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/webhook") ||
			contentType != "json" || insecure != "0" {
			t.Fatalf("ok for %q %q %q", raw, contentType, insecure)
		}
	})
}
