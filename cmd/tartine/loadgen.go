package main

import (
	"context"
	"errors"
)

// cmdLoadgen is a placeholder until the loadgen command lands.
func cmdLoadgen(ctx context.Context, e env, args []string) error {
	return errors.New("loadgen: not implemented yet")
}
