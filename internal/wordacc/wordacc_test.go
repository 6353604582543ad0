package wordacc

import "testing"

func TestAccuracy(t *testing.T) {
	ref := Words("The students are then asked, (sometimes) to choose.")
	for _, c := range []struct {
		got  string
		want float64
	}{
		{"the students are then asked sometimes to choose", 1},
		{"The stuents are then asked sometimes to choose", 7.0 / 8},
		{"The students are thenasked sometimes to choose", 6.0 / 8},
		{"", 0},
	} {
		if got := Accuracy(ref, Words(c.got)); got != c.want {
			t.Errorf("%q: %.3f, want %.3f", c.got, got, c.want)
		}
	}
}
