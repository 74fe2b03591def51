package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/restored/restored/internal/testenv"
)

// cliEnv makes this test binary behave as the restored binary (main), so
// scripts under test can call it as RESTORED_BIN without a separate build.
const cliEnv = "RESTORED_TEST_BINARY_IS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) != "" {
		os.Args = append([]string{"restored"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestExampleRestoreScript runs examples/restore.sh, the README's
// automation example, against `serve --dev` twice: the first restores
// Contoso Production into Contoso Test (the run completes with its proof),
// and the second, the same restore again, plans nothing: no creates, no
// changes, only what is preview-only.
func TestExampleRestoreScript(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testenv.CI() {
				t.Fatalf("%s is missing: .ci/run's machine has it", tool)
			}
			t.Skipf("%s is missing (the example needs bash, curl and jq)", tool)
		}
	}
	const tok = "rst_example_token"
	srv := startServe(t, testEnv(t), "--dev", "--dev-token", tok, "--addr", "127.0.0.1:0")
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "examples", "restore.sh")
	run := func() string {
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(), "RESTORED_URL="+srv.URL, "RESTORED_TOKEN="+tok,
			"RESTORED_BIN="+os.Args[0], cliEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("examples/restore.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	first := run()
	for _, want := range []string{"will be created", "COMPLETED", "proof SUCCEEDED", "undo with undoRestoreRun (pre-restore set bs_"} {
		if !strings.Contains(first, want) {
			t.Errorf("first restore: output lacks %q:\n%s", want, first)
		}
	}
	second := run()
	if !strings.Contains(second, "preview: No policy changes detected") || !strings.Contains(second, "proof SUCCEEDED") {
		t.Errorf("the same restore again plans changes:\n%s", second)
	}
	// It wrote nothing, so it offers no undo (which would be refused).
	if !strings.Contains(second, "nothing to undo") || strings.Contains(second, "pre-restore set null") {
		t.Errorf("the same restore again offers an undo:\n%s", second)
	}

	// The Node example does the same with fetch and the websocket.
	node, err := exec.LookPath("node")
	if err != nil {
		if testenv.CI() {
			t.Fatal("node is missing: .ci/run's machine has it")
		}
		t.Skip("node is missing (examples/restore.mjs needs Node 20.10+)")
	}
	cmd := exec.Command(node, "--experimental-websocket", filepath.Join(filepath.Dir(script), "restore.mjs"))
	cmd.Env = append(os.Environ(), "RESTORED_URL="+srv.URL, "RESTORED_TOKEN="+tok)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "run COMPLETED, proof SUCCEEDED, it neither overwrote nor created anything") ||
		!strings.Contains(string(out), "No policy changes detected") {
		t.Errorf("examples/restore.mjs: %v\n%s", err, out)
	}
}
