package store

// OnPruneBatch makes Prune call f after each of its DELETE statements with
// the table and the rows it deleted.
func (s *Store) OnPruneBatch(f func(table string, rows int64)) { s.onPruneBatch = f }
