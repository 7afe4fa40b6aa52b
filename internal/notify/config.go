package notify

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/promobot/promobot/events"
	"sigs.k8s.io/yaml"
)

// Sink types.
const (
	TypeCloudEvents = "cloudevents"
	TypeSlack       = "slack"
)

// CloudEvents HTTP content modes.
const (
	EncodingBinary     = "binary"
	EncodingStructured = "structured"
)

// Config is the notification file given to serve --notify-config.
type Config struct {
	Sinks []SinkConfig `json:"sinks"`
}

// SinkConfig configures one sink.
type SinkConfig struct {
	// Name names the sink and its durable consumer (notify-<name>).
	Name string `json:"name"`
	// Type is TypeCloudEvents or TypeSlack.
	Type string `json:"type"`
	// URLFile holds the sink's URL, a secret.
	URLFile string `json:"url_file"`
	// Encoding is the CloudEvents content mode: EncodingBinary (default)
	// or EncodingStructured.
	Encoding string `json:"encoding,omitempty"`
	// Subjects are NATS subject patterns of the facts to forward
	// (promobot.<kind>.<verb>.<owner>.<repo>); empty means every fact.
	Subjects []string `json:"subjects,omitempty"`
	// Apps and Environments, when set, keep only facts naming one of
	// them.
	Apps         []string `json:"apps,omitempty"`
	Environments []string `json:"environments,omitempty"`
}

var sinkName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// LoadConfig reads and checks the notification file at path; unknown
// fields are errors.
func LoadConfig(path string) (Config, error) {
	var cfg Config
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("notify config read: %w", err)
	}
	if err := yaml.UnmarshalStrict(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("notify config %s parse: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("notify config %s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks every sink's fields (not its URL file).
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, s := range c.Sinks {
		if !sinkName.MatchString(s.Name) {
			return fmt.Errorf("sink %d: name %q: want lowercase letters, digits, '-' or '_'", i, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("sink %s: name used twice", s.Name)
		}
		seen[s.Name] = true
		if err := s.validate(); err != nil {
			return fmt.Errorf("sink %s: %w", s.Name, err)
		}
	}
	return nil
}

func (s SinkConfig) validate() error {
	switch s.Type {
	case TypeCloudEvents:
		if s.Encoding != "" && s.Encoding != EncodingBinary && s.Encoding != EncodingStructured {
			return fmt.Errorf("encoding %q: want binary or structured", s.Encoding)
		}
	case TypeSlack:
		if s.Encoding != "" {
			return errors.New("encoding applies to cloudevents sinks only")
		}
	default:
		return fmt.Errorf("type %q: want cloudevents or slack", s.Type)
	}
	if s.URLFile == "" {
		return errors.New("url_file is required")
	}
	for _, p := range s.Subjects {
		if err := validSubject(p); err != nil {
			return err
		}
	}
	return nil
}

// validSubject checks a subject pattern: promobot.<tokens>, each token
// non-empty, '*' a whole token and '>' only last.
func validSubject(p string) error {
	t := strings.Split(p, ".")
	if t[0] != events.FactPrefix && t[0] != "*" && t[0] != ">" {
		return fmt.Errorf("subject %q: facts' subjects start with %s.", p, events.FactPrefix)
	}
	for i, tok := range t {
		switch {
		case tok == "" || strings.ContainsAny(tok, " \t\r\n"):
			return fmt.Errorf("subject %q: empty token or whitespace", p)
		case tok == ">" && i != len(t)-1:
			return fmt.Errorf("subject %q: '>' must be the last token", p)
		case len(tok) > 1 && strings.ContainsAny(tok, "*>"):
			return fmt.Errorf("subject %q: wildcards must be whole tokens", p)
		}
	}
	return nil
}

// readURL reads a sink's URL from its file. Errors never quote the URL.
func readURL(file string) (string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("url file read: %w", err)
	}
	s := strings.TrimSpace(string(raw))
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("url file %s: not an http(s) URL", file)
	}
	return s, nil
}

// defaultTimeout bounds one POST to a sink.
const defaultTimeout = 10 * time.Second
