package main

import (
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// maxHeaderValueLen is the largest header value read or written (8 KiB, the W3C baggage
// limit, as in baker-otel-nats); longer values are treated as absent.
const maxHeaderValueLen = 8 << 10

// headerCarrier is a propagation.TextMapCarrier over nats.Header.
//
// NATS headers are case-sensitive on the wire and nats.Header does not canonicalise names,
// but propagation must not depend on how a peer spelled them: Get prefers the exact name
// and otherwise accepts a single case-insensitive match (Go's propagation.HeaderCarrier
// writes "Traceparent", baker-otel-nats writes "traceparent"). A header present more than
// once (several values, or several spellings) is ambiguous and reads as absent, as a
// repeated traceparent is invalid under W3C Trace Context. Set writes the lower-case W3C
// name and removes other spellings of it, so the reply never carries two traceparents.
type headerCarrier nats.Header

var _ propagation.TextMapCarrier = headerCarrier(nil)

// Get returns the single value of key, or "" when it is absent, repeated or oversize.
func (c headerCarrier) Get(key string) string {
	if vs, ok := c[key]; ok {
		return single(vs)
	}
	var found []string
	matches := 0
	for k, vs := range c {
		if strings.EqualFold(k, key) {
			matches++
			found = vs
		}
	}
	if matches != 1 {
		return ""
	}
	return single(found)
}

func single(vs []string) string {
	if len(vs) != 1 || len(vs[0]) > maxHeaderValueLen {
		return ""
	}
	return vs[0]
}

// Set stores value under the lower-case key, replacing every other spelling of it. Values
// that are oversize or hold CR/LF (they would break the NATS header block) are dropped.
func (c headerCarrier) Set(key, value string) {
	if len(value) > maxHeaderValueLen || strings.ContainsAny(value, "\r\n") {
		return
	}
	lower := strings.ToLower(key)
	for k := range c {
		if k != lower && strings.EqualFold(k, lower) {
			delete(c, k)
		}
	}
	c[lower] = []string{value}
}

// Keys lists the header names as they arrived.
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
