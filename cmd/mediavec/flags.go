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

// parseFlags parses args, then fills every flag not given on the command
// line from MEDIAVEC_<FLAG>, then from the config file.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
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
