package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/webhook"
)

// parseSize reads a byte size as Kubernetes writes one: 512Mi, 2Gi, 1G,
// 1048576.
func parseSize(s string) (int64, error) {
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q: want a size such as 512Mi or 2Gi", s)
	}
	n, ok := q.AsInt64()
	if !ok || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive whole number of bytes", s)
	}
	return n, nil
}

// parseMaxBytes reads --nats-max-bytes: NAME=SIZE per stream or bucket.
func parseMaxBytes(flag map[string]string) (map[string]int64, error) {
	known := events.DefaultMaxBytes()
	out := map[string]int64{}
	for name, size := range flag {
		if _, ok := known[name]; !ok {
			return nil, fmt.Errorf("--nats-max-bytes: unknown stream or bucket %q (want one of %s)", name, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
		n, err := parseSize(size)
		if err != nil {
			return nil, fmt.Errorf("--nats-max-bytes %s: %w", name, err)
		}
		out[name] = n
	}
	return out, nil
}

// parseUnverifiedBytes reads --webhook-unverified-bytes, which must leave
// room for one delivery of the largest size GitHub sends.
func parseUnverifiedBytes(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("--webhook-unverified-bytes: %w", err)
	}
	if n < webhook.MaxBodyBytes {
		return 0, fmt.Errorf("--webhook-unverified-bytes %s: below 25Mi, GitHub's largest deliveries could never be read", s)
	}
	return n, nil
}
