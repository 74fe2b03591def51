package app

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The module's layout is the design card's, and its imports point one way
// (README, "How it is built"). These tests keep both true as the code grows.

const module = "github.com/restored/restored"

// topLevel is everything the repository root may hold besides dot-files:
// the card's code, and the packaging and operator docs an image is built
// and run with (Dockerfile, compose.yaml, docs/).
var topLevel = []string{
	"BENCHMARKS.md", "Dockerfile", "Makefile", "README.md", "cmd", "compose.yaml", "docs", "ent", "examples", "go.mod", "go.sum",
	"gqlgen.yml", "graph", "internal", "jobs", "schema.graphql", "server",
}

func TestTopLevelIsTheDesignCard(t *testing.T) {
	root := moduleRoot(t)
	out, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err) // a source tarball has no index to read
	}
	seen := map[string]bool{}
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		top, _, _ := strings.Cut(f, "/")
		if !strings.HasPrefix(top, ".") {
			seen[top] = true
		}
	}
	for top := range seen {
		if !slices.Contains(topLevel, top) {
			t.Errorf("%q is tracked at the top level: the card has only %v (domain and support code lives under internal/)", top, topLevel)
		}
	}
}

// forbidden[p] lists the package prefixes that packages under p must not
// import (outside their tests): the arrows of the README's diagram.
var forbidden = map[string][]string{
	"internal/domain/":   {"graph", "server", "jobs", "internal/app", "internal/msgraph", "cmd"},
	"internal/intune":    {"internal/domain", "graph", "server", "jobs", "internal/app", "internal/msgraph", "ent"},
	"internal/msgraph":   {"internal/domain", "graph", "server", "jobs", "internal/app"},
	"internal/platform/": {"internal/domain", "internal/intune", "internal/msgraph", "graph", "server", "jobs", "internal/app"},
	"internal/store":     {"internal/domain", "graph", "server", "jobs", "internal/app", "internal/msgraph"},
	"graph":              {"jobs", "server", "internal/app", "internal/msgraph", "cmd"},
	"jobs":               {"graph", "server", "internal/app", "internal/msgraph", "cmd"},
	"server":             {"jobs", "internal/app", "internal/msgraph", "internal/domain/restore", "internal/domain/backup"},
	// The typed results are a leaf: ent stores them, so they import nothing of ours.
	"internal/domain/results": {"internal", "ent", "graph", "server", "jobs", "cmd"},
}

func TestImportsPointOneWay(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for owner, bans := range forbidden {
			if !under(rel, owner) {
				continue
			}
			checked++
			for _, imp := range p.Imports {
				dep, ok := strings.CutPrefix(imp, module+"/")
				if !ok {
					continue
				}
				for _, ban := range bans {
					// A package may import its own subpackages (msgraph → msgraph/graphsim is
					// still msgraph), never the banned layers.
					if under(dep, ban) && !under(dep, strings.TrimSuffix(owner, "/")) {
						t.Errorf("%s imports %s: %s must not depend on %s", rel, dep, owner, ban)
					}
				}
			}
		}
	}
	if checked < 15 {
		t.Fatalf("only %d packages matched the rules: the layout moved without this test", checked)
	}
}

// under reports whether the package path p is prefix or inside it.
func under(p, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(p, prefix)
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
