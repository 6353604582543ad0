package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/shlex"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/realclips"
)

// readmeExample is one `$ bin/mediavec …` line of the README and the
// output printed under it.
type readmeExample struct {
	line string
	args []string
	want []string
}

// readmeExamples reads every `$ bin/mediavec` command line from the
// README's code blocks, with the lines under it up to the next command.
func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeExample
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			inBlock = !inBlock
		case !inBlock:
		case strings.HasPrefix(line, "$ bin/mediavec "):
			words, err := shlex.Split(strings.TrimPrefix(line, "$ bin/mediavec "))
			if err != nil {
				t.Fatalf("README: %q: %v", line, err)
			}
			out = append(out, readmeExample{line: line, args: words})
		case strings.HasPrefix(line, "$ "):
			out = append(out, readmeExample{line: line}) // another program: its output is not ours
		case len(out) > 0 && line != "":
			out[len(out)-1].want = append(out[len(out)-1].want, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadmeExamples runs every `$ bin/mediavec` line of the README as
// written, in order, against the stack `make demo` builds (the same real
// media, titles and queries), and checks each answers as the README shows:
// exit 0, and the same first line — for a result table, the same video
// first; for "no close match", no result.
func TestReadmeExamples(t *testing.T) {
	examples := readmeExamples(t)
	var commands int
	for _, ex := range examples {
		if ex.args != nil {
			commands++
		}
	}
	if commands < 5 {
		t.Fatalf("README has %d bin/mediavec examples, want the tour's", commands)
	}

	ctx := t.Context()
	dir := t.TempDir()
	if err := realclips.MakeDemo(ctx, filepath.Join(dir, ".demo")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	s, err := app.Start(ctx, testStackConfig(t, filepath.Join(dir, ".demo", "data"), 2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	t.Setenv("MEDIAVEC_API", s.HTTPURL())
	t.Setenv("MEDIAVEC_NATS", s.NATSURL())

	// As scripts/demo does: each clip submitted with its title.
	titles, err := os.ReadFile(filepath.Join(".demo", "titles.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for row := range strings.Lines(string(titles)) {
		path, title, ok := strings.Cut(strings.TrimSpace(row), "\t")
		if !ok {
			t.Fatalf("titles.tsv: %q", row)
		}
		out, code := cli(t, ctx, "submit", path, "--title", title, "--wait", "3m")
		if code != 0 {
			t.Fatalf("submit %s: exit %d: %s", path, code, out)
		}
	}

	for _, ex := range examples {
		if ex.args == nil {
			continue
		}
		out, code := cli(t, ctx, ex.args...)
		t.Logf("%s\n%s", ex.line, out)
		if code != 0 {
			t.Errorf("%s: exit %d", ex.line, code)
			continue
		}
		got := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(ex.want) == 0 {
			t.Errorf("%s: the README shows no output under it", ex.line)
			continue
		}
		switch want := ex.want[0]; {
		case strings.HasPrefix(want, "RANK"):
			if len(ex.want) < 2 || len(got) < 2 || !strings.HasPrefix(got[0], "RANK") {
				t.Errorf("%s: printed\n%s\nwant a table like the README's", ex.line, out)
				continue
			}
			if ex.want[1] == "…" {
				continue // the README shows only the header
			}
			if w, g := strings.Fields(ex.want[1])[:2], strings.Fields(got[1])[:2]; w[1] != g[1] {
				t.Errorf("%s: first result %v, the README shows %v\n%s", ex.line, g, w, out)
			}
		case strings.HasPrefix(want, "no close match"):
			if !strings.HasPrefix(got[0], "no close match") {
				t.Errorf("%s: printed\n%s\nthe README shows no close match", ex.line, out)
			}
		default:
			if got[0] != want {
				t.Errorf("%s: printed %q first, the README shows %q", ex.line, got[0], want)
			}
		}
	}
	t.Logf("%d README command lines ran as written", commands)
}
