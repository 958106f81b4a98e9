package run

import (
	"errors"

	"github.com/autofreeze/autofreeze/text"
)

type activationCache struct{ ref CacheRef }

func (c *activationCache) close() {}
func (c *activationCache) batch(rows []int, b text.Batch) ([]float32, error) {
	return nil, errors.New("no cache")
}
func (r *trainRun) buildCache(k int) (*activationCache, error) {
	return nil, errors.New("cache: not wired")
}
func (r *trainRun) reopenCache(ref CacheRef) error { return errors.New("cache: not wired") }
