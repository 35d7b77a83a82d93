package statements

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5"
)

// RenderRun renders the PDF of every statement of a run in lang, on
// workers goroutines (0: one per CPU), and hands each to each (called
// from one goroutine at a time, in no particular order). Statements are
// streamed from the database, so memory stays bounded by the workers'
// queue, not by the size of the run. It stops at the first error.
func (s *Service) RenderRun(ctx context.Context, tenantID, runID int64, workers int, lang string, each func(Statement, []byte) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	todo := make(chan Statement, 4*workers)
	type done struct {
		st  Statement
		pdf []byte
		err error
	}
	results := make(chan done, 4*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for st := range todo {
				pdf, err := s.PDF(st.Content, lang)
				select {
				case results <- done{st, pdf, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(todo)
		rows, err := s.pool.Query(ctx, `SELECT `+statementCols+` FROM statements st WHERE st.tenant_id = $1 AND st.run_id = $2 ORDER BY st.id`, tenantID, runID)
		if err != nil {
			readErr <- err
			return
		}
		defer rows.Close()
		for rows.Next() {
			st, err := scanStatement(rows)
			if err != nil {
				readErr <- err
				return
			}
			select {
			case todo <- st:
			case <-ctx.Done():
				readErr <- ctx.Err()
				return
			}
		}
		readErr <- rows.Err()
	}()
	go func() { wg.Wait(); close(results) }()
	var first error
	for r := range results {
		if first != nil {
			continue
		}
		if r.err == nil {
			r.err = each(r.st, r.pdf)
		}
		if r.err != nil {
			first = r.err
			cancel()
		}
	}
	if first != nil {
		return fmt.Errorf("render run %d: %w", runID, first)
	}
	if err := <-readErr; err != nil && err != pgx.ErrNoRows {
		return fmt.Errorf("render run %d: %w", runID, err)
	}
	return nil
}
