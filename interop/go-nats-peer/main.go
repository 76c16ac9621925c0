// go-nats-peer: a Go stand-in for the agent pipeline's Rust Worker, built on nats.go and the
// OpenTelemetry Go SDK. It consumes the Brain's jobs from the durable JetStream pull consumer,
// continues the trace from the message headers (W3C traceparent/tracestate/baggage), answers
// on the job's reply inbox with the context injected into the reply's headers, and acks.
// It proves that baker-otel's NATS propagation interoperates with a non-Rust SDK.
//
// Environment: NATS_URL, BAKER_STREAM, BAKER_SUBJECT_PREFIX, BAKER_CONSUMER (defaults as in
// examples/agent-pipeline/src/settings.rs), OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/gRPC; an
// http:// URL means plaintext), OTEL_SERVICE_NAME (default go-nats-peer).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

const (
	defaultServiceName  = "go-nats-peer"
	instrumentationName = "github.com/baker-street/baker-otel/interop/go-nats-peer"
	// inboxTemplate is the destination name of every reply inbox (_INBOX.<random>), so span
	// names stay low-cardinality; same rule as baker-otel-nats.
	inboxTemplate = "_INBOX"
	// flushTimeout bounds the tracer provider's final export on shutdown.
	flushTimeout = 5 * time.Second
	// msgIDHeader carries the JetStream message id (messaging.message.id).
	msgIDHeader = "Nats-Msg-Id"
)

// job is the Brain's JSON job (examples/agent-pipeline/src/wire.rs, Job).
type job struct {
	JobID          string `json:"job_id"`
	ConversationID string `json:"conversation_id"`
	Message        string `json:"message"`
	Route          string `json:"route"`
	ReplyTo        string `json:"reply_to"`
}

type usage struct {
	InputTokens  uint64  `json:"input_tokens"`
	OutputTokens uint64  `json:"output_tokens"`
	Cost         float64 `json:"cost"`
}

// jobResult is the Worker's answer (wire.rs, JobResult).
type jobResult struct {
	JobID      string `json:"job_id"`
	Reply      string `json:"reply"`
	Usage      usage  `json:"usage"`
	ToolErrors uint32 `json:"tool_errors"`
}

type settings struct {
	natsURL, stream, prefix, consumer, otlpEndpoint, serviceName string
}

func env(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

func settingsFromEnv() settings {
	return settings{
		natsURL:      env("NATS_URL", "nats://127.0.0.1:4222"),
		stream:       env("BAKER_STREAM", "BAKER_JOBS"),
		prefix:       env("BAKER_SUBJECT_PREFIX", "jobs"),
		consumer:     env("BAKER_CONSUMER", "agent-worker"),
		otlpEndpoint: env("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
		serviceName:  env("OTEL_SERVICE_NAME", defaultServiceName),
	}
}

func (s settings) jobSubject() string { return s.prefix + ".agent" }

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("go-nats-peer failed", "error", err.Error())
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	s := settingsFromEnv()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	tp, err := newTracerProvider(ctx, s)
	if err != nil {
		return fmt.Errorf("tracer provider: %w", err)
	}
	// Flushes the spans still queued (bounded by flushTimeout); runs once, at the end of a
	// clean shutdown or on the way out of a failed start.
	flush := sync.OnceFunc(func() {
		fctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		if err := tp.Shutdown(fctx); err != nil {
			log.Warn("tracer provider shutdown", "error", err.Error())
		}
	})
	defer flush()
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(prop)

	nc, err := nats.Connect(s.natsURL, nats.Name(s.serviceName), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("nats connect %s: %w", s.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	setupCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	cons, err := ensureConsumer(setupCtx, js, s)
	cancel()
	if err != nil {
		return err
	}

	w := &worker{
		log:      log,
		nc:       nc,
		tracer:   tp.Tracer(instrumentationName),
		prop:     prop,
		consumer: s.consumer,
	}
	cc, err := cons.Consume(w.handle, jetstream.ConsumeErrHandler(
		func(_ jetstream.ConsumeContext, err error) {
			log.Warn("consumer error", "error", err.Error())
		}))
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	log.Info("go-nats-peer ready", "stream", s.stream, "consumer", s.consumer,
		"subject", s.jobSubject(), "service", s.serviceName)

	<-ctx.Done()
	log.Info("shutting down")
	// Stop pulling; messages already delivered to the handler finish first.
	cc.Drain()
	select {
	case <-cc.Closed():
	case <-time.After(flushTimeout):
		cc.Stop()
	}
	if err := nc.Flush(); err != nil {
		log.Warn("nats flush", "error", err.Error())
	}
	flush()
	log.Info("go-nats-peer stopped")
	return nil
}

func newTracerProvider(ctx context.Context, s settings) (*sdktrace.TracerProvider, error) {
	var opts []otlptracegrpc.Option
	if s.otlpEndpoint != "" {
		// An http:// URL selects plaintext gRPC (WithEndpointURL reads the scheme).
		opts = append(opts, otlptracegrpc.WithEndpointURL(s.otlpEndpoint))
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES
		resource.WithAttributes(semconv.ServiceName(s.serviceName)),
	)
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
	), nil
}

// ensureConsumer gets (or creates, as the Rust Worker does) the stream and the durable pull
// consumer on <prefix>.agent.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, s settings) (jetstream.Consumer, error) {
	stream, err := js.Stream(ctx, s.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		stream, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:     s.stream,
			Subjects: []string{s.prefix + ".>"},
			MaxAge:   time.Hour,
		})
		if err != nil { // lost a creation race with the Brain: use its stream
			stream, err = js.Stream(ctx, s.stream)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", s.stream, err)
	}
	cons, err := stream.Consumer(ctx, s.consumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       s.consumer,
			FilterSubject: s.jobSubject(),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       60 * time.Second,
			MaxAckPending: 1024,
		})
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", s.consumer, err)
	}
	return cons, nil
}

type worker struct {
	log      *slog.Logger
	nc       *nats.Conn
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	consumer string
}

// destination is the span/attribute name of a subject: reply inboxes collapse to _INBOX.
func destination(subject string) string {
	if subject == inboxTemplate || strings.HasPrefix(subject, inboxTemplate+".") {
		return inboxTemplate
	}
	return subject
}

// validSubject: a publishable NATS subject (non-empty tokens, no wildcards, no whitespace).
func validSubject(s string) bool {
	if s == "" || len(s) > 1024 || strings.ContainsAny(s, " \t\r\n\x00") {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || tok == "*" || tok == ">" {
			return false
		}
	}
	return true
}

// handle processes one job: the CONSUMER span `process <subject>` continues the Brain's
// trace; the reply goes out inside a PRODUCER span `send _INBOX`; then the message is acked.
// A job that cannot be processed (malformed JSON, no usable reply subject) is terminated, so
// JetStream does not redeliver it forever. Never panics on input.
func (w *worker) handle(msg jetstream.Msg) {
	headers := msg.Headers()
	parent := w.prop.Extract(context.Background(), headerCarrier(headers))
	dest := destination(msg.Subject())
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.name", "process"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", dest),
		attribute.String("messaging.consumer.group.name", w.consumer),
		attribute.Int("messaging.message.body.size", len(msg.Data())),
	}
	if id := headerCarrier(headers).Get(msgIDHeader); id != "" {
		attrs = append(attrs, attribute.String("messaging.message.id", id))
	}
	if md, err := msg.Metadata(); err == nil {
		attrs = append(attrs, attribute.Int64("baker.messaging.delivery_count", int64(md.NumDelivered)))
	}
	ctx, span := w.tracer.Start(parent, "process "+dest,
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
	defer span.End()
	log := w.log.With("trace_id", span.SpanContext().TraceID().String(), "subject", msg.Subject())

	fail := func(errType, what string, err error) {
		log.Error(what, "error", err.Error(), "error_type", errType)
		span.SetStatus(codes.Error, what)
		span.SetAttributes(attribute.String("error.type", errType))
		if err := msg.Term(); err != nil {
			log.Warn("term failed", "error", err.Error())
		}
	}

	var j job
	if err := json.Unmarshal(msg.Data(), &j); err != nil {
		fail("invalid_payload", "invalid job payload", err)
		return
	}
	if !validSubject(j.ReplyTo) {
		fail("invalid_reply_to", "job has no usable reply_to", fmt.Errorf("reply_to %q", j.ReplyTo))
		return
	}
	bag := baggage.FromContext(ctx)
	log.Info("job received", "job_id", j.JobID, "route", j.Route, "baggage", bag.String(),
		"header_names", strings.Join(headerCarrier(headers).Keys(), ","))

	payload, err := json.Marshal(jobResult{
		JobID: j.JobID,
		Reply: "answered by go-nats-peer: " + j.Message,
	})
	if err != nil { // unreachable with these types; never panic anyway
		fail("encode_failed", "could not encode the reply", err)
		return
	}
	if err := w.reply(ctx, j.ReplyTo, payload); err != nil {
		// The Brain will time out; a redelivery could still answer it.
		log.Error("could not publish the reply", "error", err.Error())
		span.SetStatus(codes.Error, "reply failed")
		span.SetAttributes(attribute.String("error.type", "reply_failed"))
		_ = msg.Nak()
		return
	}
	if err := msg.Ack(); err != nil {
		log.Warn("ack failed", "error", err.Error())
		span.SetAttributes(attribute.String("error.type", "ack_failed"))
		span.SetStatus(codes.Error, "ack failed")
		return
	}
	log.Info("job answered", "job_id", j.JobID)
}

// reply publishes payload to subject inside a PRODUCER span `send <destination>`, with that
// span's context injected into the message headers.
func (w *worker) reply(ctx context.Context, subject string, payload []byte) error {
	dest := destination(subject)
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.name", "publish"),
		attribute.String("messaging.operation.type", "send"),
		attribute.String("messaging.destination.name", dest),
		attribute.Int("messaging.message.body.size", len(payload)),
	}
	if dest == inboxTemplate {
		attrs = append(attrs, attribute.Bool("messaging.destination.temporary", true))
	}
	ctx, span := w.tracer.Start(ctx, "send "+dest,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	defer span.End()
	out := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
	w.prop.Inject(ctx, headerCarrier(out.Header))
	if err := w.nc.PublishMsg(out); err != nil {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(attribute.String("error.type", "publish_failed"))
		return err
	}
	return nil
}
