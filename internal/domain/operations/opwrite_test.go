package operations_test

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/restored/restored/ent/operationrun"
	"github.com/restored/restored/ent/schema"
	"github.com/restored/restored/internal/domain/operations"
)

// TestStatusWrittenOnlyByService: outside the service, writing a run's
// status or outcome fails, by update, bulk update or a create that does not
// start QUEUED and PENDING; other fields stay writable; the service's own
// writes pass.
func TestStatusWrittenOnlyByService(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run, _ := f.mustStart(t, start("k"))
	c := f.db.Client
	for _, tc := range []struct {
		name  string
		write func() error
	}{
		{"update one status", func() error {
			return c.OperationRun.UpdateOneID(run.ID).SetStatus(operationrun.StatusCOMPLETED).Exec(ctx)
		}},
		{"update one outcome", func() error {
			return c.OperationRun.UpdateOne(run).SetOutcome(operationrun.OutcomeSUCCEEDED).Exec(ctx)
		}},
		{"bulk update", func() error {
			return c.OperationRun.Update().Where(operationrun.ID(run.ID)).SetOutcome(operationrun.OutcomeFAILED).Exec(ctx)
		}},
		{"create running", func() error {
			return c.OperationRun.Create().SetWorkspaceID("wks_test").SetType("x").SetStatus(operationrun.StatusRUNNING).Exec(ctx)
		}},
		{"create succeeded", func() error {
			return c.OperationRun.Create().SetWorkspaceID("wks_test").SetType("x").SetOutcome(operationrun.OutcomeSUCCEEDED).Exec(ctx)
		}},
	} {
		if err := tc.write(); !errors.Is(err, schema.ErrStatusWrite) {
			t.Errorf("%s: err = %v, want ErrStatusWrite", tc.name, err)
		}
	}
	if got := f.db.OperationRun.GetX(ctx, run.ID); got.Status != operationrun.StatusQUEUED || got.Outcome != operationrun.OutcomePENDING {
		t.Fatalf("run is %s/%s after refused writes", got.Status, got.Outcome)
	}
	if err := c.OperationRun.UpdateOneID(run.ID).SetSubjectID("bks_1").Exec(ctx); err != nil {
		t.Errorf("writing another field: %v", err)
	}
	if err := c.OperationRun.Create().SetWorkspaceID("wks_test").SetType("x").Exec(ctx); err != nil {
		t.Errorf("creating a queued run: %v", err)
	}
	if _, err := f.svc.Begin(ctx, run.ID); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := f.svc.Complete(ctx, run.ID, operations.End{Outcome: operationrun.OutcomeSUCCEEDED}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
}

// TestOpwriteImportedOnlyByOperations: the marker that lets status and
// outcome writes through is used, outside tests, by package operations and
// the schema's hook alone.
func TestOpwriteImportedOnlyByOperations(t *testing.T) {
	const pkg = "github.com/restored/restored/internal/domain/operations/opwrite"
	root := filepath.Join("..", "..", "..")
	allowed := map[string]bool{
		filepath.Join("internal", "domain", "operations"): true,
		filepath.Join("ent", "schema"):                    true,
	}
	var users []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range file.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == pkg {
				rel, _ := filepath.Rel(root, filepath.Dir(path))
				if !allowed[rel] {
					users = append(users, path)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) > 0 {
		t.Errorf("opwrite imported outside package operations: %v", users)
	}
}
