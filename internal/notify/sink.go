package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/promobot/promobot/events"
)

// sender delivers one fact to a sink.
type sender func(ctx context.Context, ev event.Event) error

// newCloudEventsSender posts facts as CloudEvents with sdk-go's HTTP
// protocol, in binary or structured content mode.
func newCloudEventsSender(target, encoding string, hc *http.Client) (sender, error) {
	p, err := cehttp.New(cehttp.WithTarget(target), cehttp.WithClient(*hc))
	if err != nil {
		return nil, errors.New("cloudevents protocol: invalid target")
	}
	force := binding.WithForceBinary
	if encoding == EncodingStructured {
		force = binding.WithForceStructured
	}
	return func(ctx context.Context, ev event.Event) error {
		res := p.Send(force(ctx), binding.ToMessage(&ev))
		if protocol.IsACK(res) {
			return nil
		}
		var hr *cehttp.Result
		if errors.As(res, &hr) {
			return statusError(hr.StatusCode)
		}
		return redact(res, target)
	}, nil
}

// newSlackSender posts {"text": summary} to a Slack-compatible incoming
// webhook.
func newSlackSender(target string, hc *http.Client) sender {
	return func(ctx context.Context, ev event.Event) error {
		body, err := json.Marshal(map[string]string{"text": slackText(ev)})
		if err != nil {
			return events.Permanent(fmt.Errorf("slack payload encode: %w", err))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return events.Permanent(errors.New("slack request: invalid URL"))
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return redact(err, target)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		return statusError(resp.StatusCode)
	}
}

// statusError turns a sink's refusal into an error: client errors other
// than 408 and 429 are permanent (retrying sends the same request), the
// rest are retried.
func statusError(code int) error {
	err := fmt.Errorf("sink answered %d %s", code, http.StatusText(code))
	if code/100 == 4 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests {
		return events.Permanent(err)
	}
	return err
}

// redact returns err's text without the sink's URL, which is a secret.
func redact(err error, target string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := strings.ReplaceAll(err.Error(), target, "<sink url>")
	if u, perr := url.Parse(target); perr == nil && u.Path != "" && u.Path != "/" {
		msg = strings.ReplaceAll(msg, u.Path, "<path>")
	}
	return fmt.Errorf("sink post: %s", msg)
}

// slackText is the one line a Slack message shows for ev: the fact's
// summary when it has one, else its type and subject. Slack's control
// characters are escaped so that text from repositories cannot mention
// channels or forge links.
func slackText(ev event.Event) string {
	var d struct {
		Summary string `json:"summary"`
	}
	_ = json.Unmarshal(ev.Data(), &d)
	s := d.Summary
	if s == "" {
		s = strings.TrimSpace(ev.Type() + " " + ev.Subject())
	}
	return slackEscape(s)
}

var slackReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackReplacer.Replace(s) }
