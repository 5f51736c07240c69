package keys

import (
	"context"
	"errors"
	"fmt"
)

// RotationActor is who rotates keys whose rotation period has passed.
var RotationActor = Actor{Login: "system", Client: "local"}

// RotateDue rotates every key whose NextRotation has passed, as anzen
// itself ("system"), and returns the names of those it rotated. A key whose
// newest version is not active (an administrator disabled or destroyed it)
// is left alone: rotation would put it back in use. One key's failure does
// not stop the others; the errors are returned together.
func (s *Service) RotateDue(ctx context.Context) (rotated []string, err error) {
	ks, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var errs []error
	for _, k := range ks {
		next := k.NextRotation()
		if next.IsZero() || now.Before(next) || k.Latest().State != Active {
			continue
		}
		if _, err := s.Rotate(ctx, RotationActor, k.Name); err != nil {
			errs = append(errs, fmt.Errorf("rotate %s: %w", k.Name, err))
			continue
		}
		rotated = append(rotated, k.Name)
	}
	return rotated, errors.Join(errs...)
}
