// Command crashput is the store's kill -9 test helper: it puts generated
// objects into a store forever, printing a line before, during and after each
// put, until the test kills it.
//
//	crashput DIR SEED
//
// Lines: "BEGIN i size", "MID i" (half the input read), "ACK i cid size".
// Object i of a run is crashdata.Object(SEED*1_000_000+i, size).
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"

	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/core/store/internal/crashdata"
)

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func main() {
	dir := os.Args[1]
	seed, _ := strconv.ParseUint(os.Args[2], 10, 64)
	ctx := context.Background()
	s, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sizes := []int{100, 5000, 70000, 600 << 10, 1<<20 + 17}
	r := rand.New(rand.NewPCG(seed, 2))
	for i := 0; ; i++ {
		n := sizes[r.IntN(len(sizes))]
		data := crashdata.Object(seed*1_000_000+uint64(i), n)
		fmt.Printf("BEGIN %d %d\n", i, n)
		mid := false
		var in io.Reader = &progressReader{r: bytes.NewReader(data), fn: func(done int) {
			if !mid && done >= n/2 {
				mid = true
				fmt.Printf("MID %d\n", i)
			}
		}}
		if i%2 == 1 {
			in = onlyReader{in} // unknown size: the streaming path
		}
		res, err := s.Put(ctx, in, store.PutOptions{Size: map[bool]int64{true: int64(n), false: 0}[i%2 == 0], Pin: i%3 == 0})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("ACK %d %s %d\n", i, res.CID, n)
	}
}

type progressReader struct {
	r  io.Reader
	n  int
	fn func(int)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += n
	p.fn(p.n)
	return n, err
}
