package main

import (
	"context"
	"errors"
)

// cmdBench is a placeholder until the bench command lands.
func cmdBench(ctx context.Context, e env, args []string) error {
	return errors.New("bench: not implemented yet")
}
