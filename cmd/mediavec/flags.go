package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// newFlags returns a FlagSet for a subcommand with the shared --config flag.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("mediavec "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "YAML config file; its keys are flag names (env: MEDIAVEC_CONFIG)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mediavec %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), "\nEach flag can also be set as MEDIAVEC_<FLAG> or in the --config file; flags win over env, env over the file.")
	}
	return fs
}

// parseFlags parses args, flags before or after the arguments as a person
// types them ("--" ends the flags), then fills every flag not given on the
// command line from MEDIAVEC_<FLAG>, then from the config file. fs.Args()
// are the arguments, in order.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(flagsFirst(fs, args)); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var fileValues map[string]any
	cfgPath := fs.Lookup("config").Value.String()
	if !set["config"] {
		if v := os.Getenv("MEDIAVEC_CONFIG"); v != "" {
			cfgPath = v
		}
	}
	if cfgPath != "" {
		b, err := os.ReadFile(cfgPath)
		if err != nil {
			return fmt.Errorf("%w: config file: %v", errUsage, err)
		}
		if err := yaml.Unmarshal(b, &fileValues); err != nil {
			return fmt.Errorf("%w: config file %s: %v", errUsage, cfgPath, err)
		}
		// One config file serves every command, so a key another command
		// uses is fine here; say so, so that a misspelt key is noticed.
		for _, k := range sortedKeys(fileValues) {
			if fs.Lookup(k) == nil {
				fmt.Fprintf(fs.Output(), "%s: config key %q is not a flag of this command; ignored\n", fs.Name(), k)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || f.Name == "config" {
			return
		}
		env := "MEDIAVEC_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%w: %s=%q: %v", errUsage, env, v, e)
			}
			return
		}
		if v, ok := fileValues[f.Name]; ok {
			if e := f.Value.Set(fmt.Sprint(v)); e != nil {
				err = fmt.Errorf("%w: config %s: %v", errUsage, f.Name, e)
			}
		}
	})
	return err
}

// flagsFirst reorders args so that every flag (with its value, unless it
// is a boolean flag or written -flag=value) comes before the arguments,
// then "--", then the arguments in their order: Go's flag package stops at
// the first argument, and `submit clip.mp4 --title T` must mean what it
// says. Everything after a "--" is an argument; a lone "-" (standard
// input) is an argument; an unknown flag is kept for fs.Parse to report.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return append(append(flags, "--"), rest...)
}
