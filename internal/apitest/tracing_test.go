package apitest

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/restored/restored/internal/msgraph/graphsim"
	"github.com/restored/restored/internal/platform/tracing"
)

// TestOneTraceFromMutationToGraph: with tracing on, the mutation that
// starts a capture, the capture job (on the worker, through Asynq) and each
// Graph request it makes are one trace.
func TestOneTraceFromMutationToGraph(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	shutdown := tracing.Install(sdktrace.NewSimpleSpanProcessor(spans), "test")
	t.Cleanup(func() {
		_ = shutdown(context.Background())
		otel.SetTracerProvider(noop.NewTracerProvider())
	})
	e := start(t)
	s := e.startSim()
	_, envRow := e.tenantEnv(s, "traced", graphsim.GenOptions{Seed: 5, Policies: 3})
	spans.Reset()
	e.backupOf(envRow.ID, "traced")
	time.Sleep(200 * time.Millisecond) // the job's span ends just after its run completes

	var mutation, job sdktrace.ReadOnlySpan
	got := spans.GetSpans().Snapshots()
	for _, sp := range got {
		switch {
		case strings.HasPrefix(sp.Name(), "graphql mutation"):
			mutation = sp
		case sp.Name() == "job backup_set.capture":
			job = sp
		}
	}
	if mutation == nil || job == nil {
		names := []string{}
		for _, sp := range got {
			names = append(names, sp.Name())
		}
		t.Fatalf("spans %v: want the mutation's and the job's", names)
	}
	trace := mutation.SpanContext().TraceID()
	if job.SpanContext().TraceID() != trace {
		t.Fatalf("the job is not in the mutation's trace")
	}
	graphCalls := 0
	for _, sp := range got {
		if strings.HasPrefix(sp.Name(), "graph ") && sp.SpanContext().TraceID() == trace {
			graphCalls++
		}
	}
	if graphCalls == 0 {
		t.Fatal("no Graph request in the mutation's trace")
	}
}
