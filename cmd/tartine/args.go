package main

import (
	"flag"
	"fmt"
)

// parseFileArgs parses fs over args, accepting flags before and after one
// file name, which it returns. It prints the problem and returns exitCode(2)
// when the arguments are wrong or the file is missing (usage names it).
func parseFileArgs(e env, fs *flag.FlagSet, args []string, usage string) (string, error) {
	var file string
	for {
		if err := fs.Parse(args); err != nil {
			return "", exitCode(2)
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			fmt.Fprintf(e.stderr, "%s: one file only (got %q and %q)\n", fs.Name(), file, fs.Arg(0))
			return "", exitCode(2)
		}
		file, args = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" {
		fmt.Fprintln(e.stderr, "usage:", usage)
		return "", exitCode(2)
	}
	return file, nil
}
