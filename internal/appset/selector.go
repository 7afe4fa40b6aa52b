package appset

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// labelSelector is a Kubernetes label selector.
type labelSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `yaml:"key"`
		Operator string   `yaml:"operator"`
		Values   []string `yaml:"values"`
	} `yaml:"matchExpressions"`
}

func (s labelSelector) empty() bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// matches reports whether labels satisfy s: every matchLabels entry and
// every expression (In, NotIn, Exists, DoesNotExist).
func (s labelSelector) matches(labels map[string]string) (bool, error) {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false, nil
		}
	}
	for _, e := range s.MatchExpressions {
		v, ok := labels[e.Key]
		switch e.Operator {
		case "In":
			if !ok || !slices.Contains(e.Values, v) {
				return false, nil
			}
		case "NotIn":
			if ok && slices.Contains(e.Values, v) {
				return false, nil
			}
		case "Exists":
			if !ok {
				return false, nil
			}
		case "DoesNotExist":
			if ok {
				return false, nil
			}
		default:
			return false, fmt.Errorf("operator %q is not In, NotIn, Exists or DoesNotExist", e.Operator)
		}
	}
	return true, nil
}

// selectParams keeps the params sets a generator's selector matches, the
// params flattened into labels as Argo CD does.
func (g *generation) selectParams(n *yaml.Node, ps []params) ([]params, error) {
	var s labelSelector
	if err := n.Decode(&s); err != nil {
		return nil, refuse("selector: %v", err)
	}
	var out []params
	for _, p := range ps {
		labels := map[string]string{}
		for k, v := range flatten(p) {
			labels[k] = v.(string)
		}
		ok, err := s.matches(labels)
		if err != nil {
			return nil, refuse("selector: %v", err)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}
