package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/mediavec/mediavec"

// parts are the constructors that only the assembly point may call: an
// analyzer or a worker built from its parts outside it is a second wiring,
// bound to drift from the one every command runs.
var parts = map[string][]string{
	module + "/analyze": {"New", "Models"},
	module + "/worker":  {"New"},
}

// assemblyViolations lists where a Go file builds an analyzer or a worker
// from parts: a call of analyze.New or worker.New, or an analyze.Models
// literal, whatever name the file imports the package under.
func assemblyViolations(fset *token.FileSet, f *ast.File) []string {
	names := map[string]string{} // local name → import path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if _, ok := parts[path]; !ok {
			continue
		}
		name := filepath.Base(path)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = path
	}
	if len(names) == 0 {
		return nil
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		path, ok := names[x.Name]
		if !ok {
			return true
		}
		for _, p := range parts[path] {
			if sel.Sel.Name == p {
				out = append(out, fset.Position(sel.Pos()).String()+": "+x.Name+"."+p)
			}
		}
		return true
	})
	return out
}

// goList runs go list in the module root with a template and returns its
// lines, each split at tabs.
func goList(t *testing.T, format string, pkgs ...string) [][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", format}, pkgs...)...)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows
}

// TestOnlyTheAssemblyPointBuildsAnalyzersAndWorkers fails if any package
// that runs in the binary other than internal/app constructs the analyzer
// or the worker from parts, or if a package above the assembly point (the
// command, the benchmarks) does so even in its tests: they can use
// internal/app, so they must. The packages below it (search, api, worker,
// …) cannot import it, and their tests build what they test with.
func TestOnlyTheAssemblyPointBuildsAnalyzersAndWorkers(t *testing.T) {
	type file struct{ pkg, path string }
	var files []file
	for _, row := range goList(t, "{{if .Module}}{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \",\"}}{{end}}", "-deps", "./cmd/mediavec") {
		if len(row) < 3 || !strings.HasPrefix(row[0], module) || row[0] == module+"/internal/app" {
			continue
		}
		for _, name := range strings.Split(row[2], ",") {
			if name != "" {
				files = append(files, file{row[0], filepath.Join(row[1], name)})
			}
		}
	}
	for _, row := range goList(t, "{{.ImportPath}}\t{{.Dir}}\t{{join .TestGoFiles \",\"}},{{join .XTestGoFiles \",\"}}", "./cmd/mediavec", "./internal/bench") {
		for _, name := range strings.Split(row[2], ",") {
			if name != "" {
				files = append(files, file{row[0], filepath.Join(row[1], name)})
			}
		}
	}
	if len(files) < 50 {
		t.Fatalf("only %d files to check: go list found too little", len(files))
	}
	fset := token.NewFileSet()
	for _, f := range files {
		ast, err := parser.ParseFile(fset, f.path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range assemblyViolations(fset, ast) {
			t.Errorf("%s builds from parts what internal/app assembles (use app.Start, app.LoadAnalyzer): %s", f.pkg, v)
		}
	}
}

// The check finds a hand-built analyzer and worker, under any import name.
func TestAssemblyCheckCanFail(t *testing.T) {
	src := `package p
import (
	an "github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/worker"
)
func f() {
	a, _ := an.New(an.Config{}, an.Models{})
	_, _ = worker.New(worker.Config{}, nil, queue.Lanes{}, nil, a, nil)
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := assemblyViolations(fset, f); len(got) != 3 {
		t.Errorf("found %v, want an.New, an.Models and worker.New", got)
	}
}
