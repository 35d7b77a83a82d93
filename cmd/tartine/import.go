package main

import (
	"context"
	"errors"
)

// cmdImport is a placeholder until the import command lands.
func cmdImport(ctx context.Context, e env, args []string) error {
	return errors.New("import: not implemented yet")
}
