// Package tracing sets up OpenTelemetry tracing (off unless an OTLP
// endpoint is configured) and carries a trace across the job queue: one
// trace runs from the mutation that starts a job, through the job, to each
// Microsoft Graph request it makes.
package tracing

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracer is restored's tracer (a no-op until Setup installs a provider).
func Tracer() trace.Tracer { return otel.Tracer("github.com/restored/restored") }

// Setup exports traces to the OTLP/HTTP endpoint (e.g.
// http://otel-collector:4318); "" leaves tracing off. The returned function
// flushes and stops the exporter.
func Setup(ctx context.Context, endpoint, version string) (func(context.Context) error, error) {
	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q: want http(s)://host:port", endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if u.Path != "" && u.Path != "/" {
		opts = append(opts, otlptracehttp.WithURLPath(u.Path))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return Install(sdktrace.NewBatchSpanProcessor(exp), version), nil
}

// Install makes processor receive every span (tests pass an in-memory one)
// and returns its shutdown.
func Install(processor sdktrace.SpanProcessor, version string) func(context.Context) error {
	res := resource.NewSchemaless(semconv.ServiceName("restored"), semconv.ServiceVersion(version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(processor), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return tp.Shutdown
}

// Inject returns the trace context of ctx as a small map, to travel in a
// task's payload.
func Inject(ctx context.Context) map[string]string {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if len(carrier) == 0 {
		return nil
	}
	return carrier
}

// Extract continues, in ctx, the trace a task's payload carried.
func Extract(ctx context.Context, carrier map[string]string) context.Context {
	if len(carrier) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(carrier))
}
