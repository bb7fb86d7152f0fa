package quant

import "math"

// Fast IQ3_XXS and IQ3_S encoders. They give the bytes of ggml's code
// (iq3_ref.go). Where the AVX-512 kernels run, the scale search is
// iq3SearchLanes: ggml's own structure with the candidate scales side by
// side in SIMD lanes (see iq3Lanes). Elsewhere it is iq3Search, which
// skips the work whose outcome is proven, and computes every value that
// reaches the output exactly as ggml does:
//
//   - the grid-neighbour searches (iq3_find_best_neighbour, ggml's hot spot)
//     are decided by a real-valued model of the distances with a proven
//     bound on ggml's float32 rounding (iq3Scratch.neighbour); when the bound
//     cannot separate the best neighbour from the next, ggml's exact float32
//     comparison decides (iq3BestNeighbour, with the distance terms
//     tabulated per coordinate and level);
//   - a winner is carried over the interval of scales where the model proves
//     it (carryInterval), and a group of four values is not looked at again
//     while none of its levels can change (iq3LevelStep) and its winner is
//     proven, so most candidate scales touch one or two of the eight groups;
//   - the sums Σ (w·x)·q and Σ (w·q)·q of a candidate take their terms from
//     per-element tables of the 8 levels, and only the part from the first
//     changed element on is added again (the partial sums before it are the
//     previous candidate's);
//   - no allocation per block: one iq3Scratch per call.
//
// Differential tests against the reference: iq3_test.go (random, adversarial
// and large inputs and a fuzz target, through every search; the model alone
// along falling scales; the lane kernels against their Go twins).

func quantizeIQ3_XXS(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	t := iq3Grid(256)
	var s iq3Scratch
	iqForBlocks(dst, src, nPerRow, imatrix, iq3xxsLen, func(y []byte, x, qw []float32) { iq3xxsBlock(t, &s, y, x, qw) })
}

func quantizeIQ3_S(dst []byte, src []float32, nPerRow int, imatrix []float32) {
	t := iq3Grid(512)
	var s iq3Scratch
	iqForBlocks(dst, src, nPerRow, imatrix, iq3sLen, func(y []byte, x, qw []float32) { iq3sBlock(t, &s, y, x, qw) })
}

// iq3Scratch is the per-call working memory of the fast encoders.
type iq3Scratch struct {
	weight, xval, waux [32]float32
	tqx, tq2           [32][8]float32 // (w·x)·q and (w·q)·q per element and level
	L, Laux            [32]int8

	// The neighbour search's real-valued model (iq3Scratch.neighbour), per
	// group k of 4 elements: aT, bT hold waux·q² and waux·q·x per element
	// and level; grpU is the off-grid point whose neighbours' A = Σ waux·q²
	// and B = Σ waux·q·x are in grpA, grpB; grpW, grpX are Σ waux and
	// max |x|; grpOK says the group's values allow the model.
	aT, bT     [32][8]float64
	grpU       [8]int
	grpA, grpB [8][iq3MaxNeighbours]float64
	grpW, grpX [8]float64
	grpOK      [8]bool
	// The last full evaluation of group k's point grpU, if grpHave[k]:
	// neighbour grpWin is ggml's choice for every scale in [grpLo, grpHi].
	grpHave      [8]bool
	grpWin       [8]int
	grpLo, grpHi [8]float64
	f            [iq3MaxNeighbours]float64 // neighbour's f_j
	lbound       [32][8]uint64             // bits of (l+1)·iq3LevelStep(xval), +Inf for l = 7
	pqx, pq2     [33]float32               // prefix sums of the candidate sums (iq3Search)

	lanes iq3Lanes // iq3SearchLanes's working memory
}

// setWeights fills s.weight with sub-block ib's importance weights (its
// 32 imatrix values through imatrixWeights, or xb² without an imatrix) and
// s.waux with their square roots, as both IQ3 encoders start a sub-block.
func (s *iq3Scratch) setWeights(xb *[32]float32, qw []float32, ib int, sigma2 float32) {
	if qw != nil {
		imatrixWeights(s.weight[:], xb[:], qw[32*ib:32*ib+32], sigma2)
	} else {
		for i, v := range xb {
			s.weight[i] = float32(v * v)
		}
	}
	for i, w := range s.weight {
		s.waux[i] = sqrt32(w)
	}
}

// prepareNeighbours sets up the real-valued model of the neighbour search
// for the sub-block in xval and waux.
func (s *iq3Scratch) prepareNeighbours() {
	for i, x := range s.xval {
		// non-negative float64s order as their bits, so the bounds are
		// compared (and their minimum taken) as integers
		step := iq3LevelStep(x)
		for l := 0; l < 7; l++ {
			s.lbound[i][l] = math.Float64bits(float64(float64(l+1) * step))
		}
		s.lbound[i][7] = math.Float64bits(math.Inf(1))
	}
	for k := 0; k < 8; k++ {
		s.grpU[k], s.grpHave[k] = -1, false
		ok := true
		var ws, xm float64
		for i := 4 * k; i < 4*k+4; i++ {
			w, x := s.waux[i], abs32(s.xval[i])
			if !(w == 0 || (w >= 0x1p-40 && w <= 0x1p40)) || !(x <= 0x1p40) {
				ok = false
				break
			}
			ws += float64(w)
			xm = max(xm, float64(x))
			w64, x64 := float64(w), float64(s.xval[i])
			for l := 0; l < 8; l++ {
				q := float64(2*l + 1)
				s.aT[i][l] = float64(w64*q) * q
				s.bT[i][l] = float64(w64*x64) * q
			}
		}
		s.grpOK[k], s.grpW[k], s.grpX[k] = ok, ws, xm
	}
}

// neighbour returns iq3BestNeighbourRef's choice for group k, off-grid
// point u and scale sc (sq = sc·q). The squared distance ggml computes in
// float32 for neighbour j differs from the real D_j = sc²·A_j − 2sc·B_j + C
// by less than E = 2⁻¹⁹·S + 2⁻¹⁴⁰, with S = Σ waux·(15sc + |x|)² (per
// term, the rounding of sc·q, of the difference, of the two products and
// of the sum bounds the error by 9.1·2⁻²⁴·waux·(sc·q + |x|)²; the range
// checks keep every intermediate normal or exact, and underflow costs at
// most 2⁻¹⁴⁹ per term). When the smallest D_j is below every other by more
// than 2E, ggml's float32 comparison picks the same neighbour; otherwise
// the exact search decides. A_j and B_j are reused while the group stays
// on the same point u.
func (s *iq3Scratch) neighbour(t *iq3Tables, k, u int, sc float32, sq *[8]float32) int {
	if !s.grpOK[k] || !(sc >= 0x1p-40 && sc <= 0x1p40) {
		s.grpHave[k] = false
		return iq3BestNeighbour(t, u, (*[4]float32)(s.xval[4*k:]), (*[4]float32)(s.waux[4*k:]), sq)
	}
	nb := t.neighboursOf(u)
	n := len(nb)
	A, B := &s.grpA[k], &s.grpB[k]
	s64 := float64(sc)
	newU := s.grpU[k] != u
	if newU {
		s.grpU[k] = u
		s.grpHave[k] = false
	} else if s.grpHave[k] && s64 >= s.grpLo[k] && s64 <= s.grpHi[k] {
		return s.grpWin[k]
	}
	r := float64(15*s64) + s.grpX[k]
	S := float64(s.grpW[k]*r) * r
	E := float64(0x1p-19*S) + 0x1p-140
	if !(S < 0x1p100) {
		s.grpU[k], s.grpHave[k] = -1, false // A and B were not computed
		return iq3BestNeighbour(t, u, (*[4]float32)(s.xval[4*k:]), (*[4]float32)(s.waux[4*k:]), sq)
	}
	f := &s.f
	fm, f2, m := math.Inf(1), math.Inf(1), 0
	if newU { // A_j and B_j of the new point's neighbours, then f_j
		a0, a1, a2, a3 := &s.aT[4*k], &s.aT[4*k+1], &s.aT[4*k+2], &s.aT[4*k+3]
		b0, b1, b2, b3 := &s.bT[4*k], &s.bT[4*k+1], &s.bT[4*k+2], &s.bT[4*k+3]
		for j, gj := range nb {
			l := &t.levels[gj]
			a := a0[l[0]&7] + a1[l[1]&7] + a2[l[2]&7] + a3[l[3]&7]
			b := b0[l[0]&7] + b1[l[1]&7] + b2[l[2]&7] + b3[l[3]&7]
			A[j&(iq3MaxNeighbours-1)], B[j&(iq3MaxNeighbours-1)] = a, b
			fj := float64(a*s64) - float64(2*b)
			f[j&(iq3MaxNeighbours-1)] = fj
			if fj < fm {
				f2, fm, m = fm, fj, j
			} else if fj < f2 {
				f2 = fj
			}
		}
	} else {
		for j := 0; j < n; j++ {
			fj := float64(A[j&(iq3MaxNeighbours-1)]*s64) - float64(2*B[j&(iq3MaxNeighbours-1)])
			f[j&(iq3MaxNeighbours-1)] = fj
			if fj < fm {
				f2, fm, m = fm, fj, j
			} else if fj < f2 {
				f2 = fj
			}
		}
	}
	if !(float64(s64*(f2-fm)) > 2*E) {
		s.grpHave[k] = false
		return iq3BestNeighbour(t, u, (*[4]float32)(s.xval[4*k:]), (*[4]float32)(s.waux[4*k:]), sq)
	}
	s.grpWin[k] = int(nb[m&(iq3MaxNeighbours-1)])
	s.carryInterval(k, n, m, s64, f2, f)
	return s.grpWin[k]
}

// carryInterval sets [grpLo, grpHi] = [s0 − d, s0] below the scale s0 at
// which neighbour m won group k with every gap f_j − f_m above the margin
// (f as in neighbour, in f[j]). The scale search visits decreasing scales,
// so only the interval below s0 is kept. f_j − f_m is linear in the scale
// with slope A_j − A_m; on [s0/2, s0] the scale is at least s0/2 and E at
// most E(s0), so (s0/2)·(g_j − (A_j − A_m)·d) > 2E(s0) for every j keeps
// sc·(f_j − f_m) > 2E there.
func (s *iq3Scratch) carryInterval(k, n, m int, s0, f2 float64, f *[iq3MaxNeighbours]float64) {
	s.grpHave[k] = false
	if !(s0 >= 0x1p-39 && s0 <= 0x1p39) {
		return
	}
	A := &s.grpA[k]
	am, fm := A[m&(iq3MaxNeighbours-1)], f[m&(iq3MaxNeighbours-1)]
	r := float64(15*s0) + s.grpX[k]
	e := float64(0x1p-19*float64(float64(s.grpW[k]*r)*r)) + 0x1p-140
	need := 4 * e / s0
	if !(f2-fm > need) { // f2 − fm is the smallest gap
		return
	}
	// d = min(s0/2, min over j with A_j > A_m of (g_j − need)/(A_j − A_m)),
	// kept as the fraction num/den and compared by cross-multiplication
	num, den := 0.5*s0, 1.0
	for j := 0; j < n; j++ {
		g, da := f[j&(iq3MaxNeighbours-1)]-fm, A[j&(iq3MaxNeighbours-1)]-am
		if da > 0 && float64((g-need)*den) < float64(num*da) {
			num, den = g-need, da
		}
	}
	const shrink = 1 - 0x1p-30 // float64 rounding of the above, generously
	s.grpHave[k] = true
	s.grpLo[k], s.grpHi[k] = s0-float64(num/den*shrink), s0
}

// iq3Search is the scale search and refinement of one 32-element sub-block
// (the part of quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl between
// the sign handling and the sign flip): candidates is = −nis..nis; xxs
// selects IQ3_XXS's bookkeeping (groups start "on the grid" and only
// off-grid groups are redone at the end) over IQ3_S's. It leaves the levels
// in s.L and returns the scale.
func iq3Search(t *iq3Tables, s *iq3Scratch, nis int, xxs bool, max float32) float32 {
	const kMaxQ = 8
	s.fillSumTables()
	var (
		best                 float32
		isOnGrid, isOnGridAx [8]bool
	)
	s.prepareNeighbours()
	s.L = [32]int8{}
	scale := max / (2*kMaxQ - 1)
	if xxs {
		isOnGrid = [8]bool{true, true, true, true, true, true, true, true}
	}
	// A group's levels and grid point only change when the candidate's id
	// reaches gT[k] (below which none of its levels can rise, see
	// iq3LevelStep) or, off the grid, when the scale leaves the interval
	// over which the neighbour search's winner is proven (carryInterval);
	// until then the group is skipped and keeps its part of Laux.
	var gT [8]float64
	for is := -nis; is <= nis; is++ {
		id := float32(2*kMaxQ-1) + float32(float32(is)*0.2)
		id /= max
		thisScale := 1 / id
		id64, s64 := float64(id), float64(thisScale)
		var sq [8]float32
		haveSq, from := false, 32 // from: the first element whose level changed
		if is == -nis {
			from = 0
		}
		for k := 0; k < 8; k++ {
			if is > -nis && id64 < gT[k] && (isOnGridAx[k] || (s.grpHave[k] && s64 >= s.grpLo[k] && s64 <= s.grpHi[k])) {
				continue
			}
			u := 0
			var g [4]int8
			tk := uint64(math.MaxUint64)
			for i := 0; i < 4; i++ {
				l := iq3Level(id, s.xval[4*k+i])
				g[i] = int8(l)
				u |= l << (3 * i)
				tk = min(tk, s.lbound[4*k+i][l&7])
			}
			gT[k] = math.Float64frombits(tk)
			isOnGridAx[k] = t.kmap[u] >= 0
			if !isOnGridAx[k] {
				var gi int
				if s.grpU[k] == u && s.grpHave[k] && s64 >= s.grpLo[k] && s64 <= s.grpHi[k] {
					gi = s.grpWin[k] // neighbour's first test, without the call
				} else {
					if !haveSq {
						sq, haveSq = iq3ScaledLevels(thisScale), true
					}
					gi = s.neighbour(t, k, u, thisScale, &sq)
				}
				g = t.levels[gi]
			}
			if lg := (*[4]int8)(s.Laux[4*k:]); *lg != g {
				*lg = g
				from = min(from, 4*k)
			}
		}
		// the sums in index order, as ggml; the partial sums before the
		// first changed element are those of the previous candidate
		sumqx, sumq2 := s.pqx[from], s.pq2[from]
		for i := from; i < 32; i++ {
			sumqx += s.tqx[i][s.Laux[i]&7]
			sumq2 += s.tq2[i][s.Laux[i]&7]
			s.pqx[i+1], s.pq2[i+1] = sumqx, sumq2
		}
		if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
			scale = sumqx / sumq2
			best = float32(scale * sumqx)
			s.L, isOnGrid = s.Laux, isOnGridAx
		}
	}
	return s.refine(t, xxs, &isOnGrid, scale, iq3RefineModel)
}

// fillSumTables sets tqx[i][l] = (w·x)·q and tq2[i][l] = (w·q)·q for
// q = 2l+1, the terms of ggml's candidate sums.
func (s *iq3Scratch) fillSumTables() {
	for i := 0; i < 32; i++ {
		w, x := s.weight[i], s.xval[i]
		wx := float32(w * x)
		for l := 0; l < 8; l++ {
			q := float32(2*l + 1)
			s.tqx[i][l] = float32(wx * q)
			s.tq2[i][l] = float32(float32(w*q) * q)
		}
	}
}

// refine is the end of ggml's sub-block search: with the best candidate's
// levels in s.L and scale, the off-grid groups (IQ3_XXS: those of the best
// candidate; IQ3_S: all groups) are searched again at that scale and the
// scale recomputed. The neighbour searches use nb: the model
// (iq3Scratch.neighbour, set up by iq3Search), or candidate lane 31 of
// s.lanes with the assembly kernel or its Go twin.
func (s *iq3Scratch) refine(t *iq3Tables, xxs bool, isOnGrid *[8]bool, scale float32, nb iq3RefineSearch) float32 {
	nNotOnGrid := 0
	for _, on := range isOnGrid {
		if !on {
			nNotOnGrid++
		}
	}
	if nNotOnGrid > 0 && scale > 0 {
		id := 1 / scale
		sq := iq3ScaledLevels(scale)
		for k := 0; k < 8; k++ {
			if xxs && isOnGrid[k] {
				continue
			}
			u := 0
			for i := 0; i < 4; i++ {
				u |= iq3Level(id, s.xval[4*k+i]) << (3 * i)
			}
			gi := int(t.kmap[u])
			switch {
			case gi >= 0:
				*(*[4]int8)(s.L[4*k:]) = t.levels[gi]
			case nb == iq3RefineModel:
				*(*[4]int8)(s.L[4*k:]) = t.levels[s.neighbour(t, k, u, scale, &sq)]
			default:
				w := &s.lanes
				w.scl[31], w.u[k][31], w.km[k][31] = scale, int32(u), int32(gi)
				var ok bool
				if nb == iq3RefineLanesAsm {
					ok = iq3NeighboursAsm(w, k, 1<<31, t)
				} else {
					ok = iq3NeighboursGeneric(w, k, 1<<31, t)
				}
				if !ok {
					panic(&AbortError{What: iq3NoNeighbour})
				}
				for i := 0; i < 4; i++ {
					s.L[4*k+i] = int8(w.lv[4*k+i][31])
				}
			}
		}
		var sumqx, sumq2 float32
		for i := 0; i < 32; i++ {
			w, q := s.weight[i], float32(2*int(s.L[i])+1)
			sumqx += float32(float32(w*s.xval[i]) * q)
			sumq2 += float32(float32(w*q) * q)
		}
		if sumq2 > 0 {
			scale = sumqx / sumq2
		}
	}
	return scale
}

// iq3LevelStep returns c such that (l+1)·c bounds the ids below which the
// level iq3Level(id, x) = l cannot rise, for ids met in increasing order:
// for x > 0 and l < 7, the level reaches l+1 only once fl(id·x) ≥ 2l+2
// (fl(id·x) − 1 is exact there and halving it gives l + 0.5, the least
// value nearest_int takes to l+1), which needs id·x ≥ (2l+2)/(1+2⁻²⁴); the
// bound (l+1)·2/x·(1−2⁻²⁰) is below that whatever the float64 rounding.
// For x ≤ 0, NaN or ±Inf the level is 0 for every id: c = +Inf.
func iq3LevelStep(x float32) float64 {
	if !(x > 0) || x > math.MaxFloat32 {
		return math.Inf(1)
	}
	return float64(2/float64(x)) * (1 - 0x1p-20)
}

// iq3ScaledLevels returns scale·q for the 8 grid values q = 2l+1.
func iq3ScaledLevels(scale float32) (sq [8]float32) {
	for l := range sq {
		sq[l] = float32(scale * float32(2*l+1))
	}
	return sq
}

// iq3BestNeighbour is iq3BestNeighbourRef for the off-grid point u with the
// distance terms tabulated per coordinate and level; sq holds scale·q.
func iq3BestNeighbour(t *iq3Tables, u int, xv, wa *[4]float32, sq *[8]float32) int {
	var T [4][8]float32
	lo, hi := &t.nbLo[u], &t.nbHi[u]
	for i := 0; i < 4; i++ {
		x, w := xv[i], wa[i]
		Ti := &T[i]
		for l := lo[i] & 7; l <= hi[i]&7; l++ {
			diff := sq[l] - x
			Ti[l] = float32(float32(w*diff) * diff)
		}
	}
	bestD2 := float32(math.MaxFloat32)
	gi := -1
	for _, j := range t.neighboursOf(u) {
		l := &t.levels[j]
		d2 := T[0][l[0]&7] + T[1][l[1]&7]
		d2 += T[2][l[2]&7]
		d2 += T[3][l[3]&7]
		if d2 < bestD2 {
			bestD2, gi = d2, int(j)
		}
	}
	if gi < 0 {
		panic(&AbortError{What: "no grid neighbour at a finite distance (GGML_ASSERT(grid_index >= 0) in iq3_find_best_neighbour)"})
	}
	return gi
}

func iq3xxsBlock(t *iq3Tables, s *iq3Scratch, y []byte, xbl, qw []float32) {
	var (
		scales     [8]float32
		blockSigns [4]uint8
		q3         [64]byte
		sas        [8]uint32
	)
	var maxScale float32
	sigma2 := float32(float32(2*sumSquares(xbl)) / qkK) // float32(): no fusion of the scaling into an addition
	for ib := 0; ib < 8; ib++ {
		xb := (*[32]float32)(xbl[32*ib:])
		s.setWeights(xb, qw, ib, sigma2)
		for k := 0; k < 4; k++ {
			nflip := 0
			var sg uint8
			for i := 0; i < 8; i++ {
				if v := xb[8*k+i]; v >= 0 {
					s.xval[8*k+i] = v
				} else {
					s.xval[8*k+i] = -v
					nflip++
					sg |= 1 << i
				}
			}
			if nflip%2 != 0 {
				imin := 0
				min := float32(float32(s.weight[8*k]*xb[8*k]) * xb[8*k])
				for i := 1; i < 8; i++ {
					if ax := float32(float32(s.weight[8*k+i]*xb[8*k+i]) * xb[8*k+i]); ax < min {
						min, imin = ax, i
					}
				}
				s.xval[8*k+imin] = -s.xval[8*k+imin]
				sg ^= 1 << imin
			}
			blockSigns[k] = sg & 127
		}
		max := s.xval[0]
		for i := 1; i < 32; i++ {
			max = cmax(max, s.xval[i])
		}
		if max < groupMaxEpsIQ3XXS {
			scales[ib] = 0
			continue
		}
		scale := iq3SearchAuto(t, s, 15, true, max)
		if scale < 0 {
			scale = -scale
			for k := range blockSigns {
				blockSigns[k] = ^blockSigns[k] & 127
			}
		}
		for k := 0; k < 8; k++ {
			q3[8*ib+k] = byte(iq3GridIndex(t, s.L[4*k:4*k+4]))
		}
		sas[ib] = uint32(blockSigns[0]) | uint32(blockSigns[1])<<7 | uint32(blockSigns[2])<<14 | uint32(blockSigns[3])<<21
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq3_xxs_impl)"})
		}
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	iq3xxsPack(y, &q3, &sas, &scales, maxScale)
}

func iq3sBlock(t *iq3Tables, s *iq3Scratch, y []byte, xbl, qw []float32) {
	var (
		scales     [8]float32
		blockSigns [4]uint8
	)
	clear(y)
	qs, qh, signs := y[2:66], y[66:74], y[74:106]
	var maxScale float32
	sigma2 := float32(float32(2*sumSquares(xbl)) / qkK) // float32(): no fusion of the scaling into an addition
	for ib := 0; ib < 8; ib++ {
		xb := (*[32]float32)(xbl[32*ib:])
		s.setWeights(xb, qw, ib, sigma2)
		for k := 0; k < 4; k++ {
			var sg uint8
			for i := 0; i < 8; i++ {
				if v := xb[8*k+i]; v >= 0 {
					s.xval[8*k+i] = v
				} else {
					s.xval[8*k+i] = -v
					sg |= 1 << i
				}
			}
			blockSigns[k] = sg
		}
		max := s.xval[0]
		for i := 1; i < 32; i++ {
			max = cmax(max, s.xval[i])
		}
		if max == 0 {
			scales[ib] = 0
			continue // ggml leaves qs and signs where they are (iq3_ref.go)
		}
		scale := iq3SearchAuto(t, s, 9, false, max)
		if scale < 0 {
			scale = -scale
			for k := range blockSigns {
				blockSigns[k] = ^blockSigns[k]
			}
		}
		for k := 0; k < 8; k++ {
			gi := iq3GridIndex(t, s.L[4*k:4*k+4])
			qs[k] = byte(gi)
			qh[ib] |= byte(gi>>8) << k
		}
		qs = qs[8:]
		copy(signs, blockSigns[:])
		signs = signs[4:]
		if !(scale >= 0) {
			panic(&AbortError{What: "a sub-block scale is NaN (GGML_ASSERT(scale >= 0) in quantize_row_iq3_s_impl)"})
		}
		scales[ib] = scale
		maxScale = cmax(maxScale, scale)
	}
	iq3sPackScales(y, &scales, maxScale)
}

// The lane-parallel scale search (iq3SearchLanes) keeps ggml's structure —
// for every candidate scale: round all 32 levels, search the neighbours of
// each off-grid group, add the sums, update the best in candidate order —
// but runs the candidates side by side, one per lane (at most 32), and each
// neighbour search over 16 neighbours at once. Every lane performs ggml's
// float32 operations in ggml's order, so the result is the reference's by
// construction; the three kernels (levels, neighbours, sums) have an
// AVX-512 version (iq3_amd64.s) and the plain Go twins below, compared by
// iq3_test.go.

// iq3Lanes is the working memory of iq3SearchLanes; the assembly kernels
// rely on its layout (byte offsets in the comments).
type iq3Lanes struct {
	lv  [32][32]int32 // 0: lv[i][c], the level of element i for candidate c
	u   [8][32]int32  // 4096: group k's packed levels l0 | l1<<3 | l2<<6 | l3<<9
	km  [8][32]int32  // 5120: kmap[u]: < 0 off the grid
	ids [32]float32   // 6144: candidate c's id
	scl [32]float32   // 6272: candidate c's scale 1/id
	sqx [32]float32   // 6400: candidate c's Σ (w·x)·q
	sq2 [32]float32   // 6528: candidate c's Σ (w·q)·q
	xv  [32]float32   // 6656: the sub-block's xval
	wv  [32]float32   // 6784: and waux, the neighbour search's weights
}

// iq3LevelsGeneric fills w.lv, w.u and w.km from w.ids for all 32 lanes:
// lv[i][c] = iq3Level(ids[c], xval[i]).
func iq3LevelsGeneric(w *iq3Lanes, xval *[32]float32, kmap *[4096]int32) {
	for k := 0; k < 8; k++ {
		for c := 0; c < 32; c++ {
			u := 0
			for i := 0; i < 4; i++ {
				l := iq3Level(w.ids[c], xval[4*k+i])
				w.lv[4*k+i][c] = int32(l)
				u |= l << (3 * i)
			}
			w.u[k][c], w.km[k][c] = int32(u), kmap[u]
		}
	}
}

// iq3NeighboursGeneric runs ggml's neighbour search (iq3BestNeighbourRef,
// with waux as the weights) for group k and every candidate c in cmask
// whose point is off the grid, at scale scl[c], and writes the winner's
// levels into w.lv. It returns false, leaving the rest undone, if a search
// finds no neighbour at a finite distance (ggml aborts there).
func iq3NeighboursGeneric(w *iq3Lanes, k int, cmask uint32, t *iq3Tables) bool {
	for c := 0; c < 32; c++ {
		if cmask>>c&1 == 0 || w.km[k][c] >= 0 {
			continue
		}
		u := int(w.u[k][c])
		sc := w.scl[c]
		var T [32]float32 // T[8i + l]: coordinate i's term for level l
		for i := 0; i < 4; i++ {
			x, wa := w.xv[4*k+i], w.wv[4*k+i]
			for l := 0; l < 8; l++ {
				diff := float32(sc*float32(2*l+1)) - x
				T[8*i+l] = float32(float32(wa*diff) * diff)
			}
		}
		off, n := int(t.nbOff[u]), int(t.nbCnt[u])
		bestD2 := float32(math.MaxFloat32)
		best := -1
		for j := 0; j < n; j++ {
			ch := t.nbIdx[off+64*(j/16)+j%16:]
			d2 := T[ch[0]] + T[ch[16]]
			d2 += T[ch[32]]
			d2 += T[ch[48]]
			if d2 < bestD2 {
				bestD2, best = d2, j
			}
		}
		if best < 0 {
			return false
		}
		ch := t.nbIdx[off+64*(best/16)+best%16:]
		for i := 0; i < 4; i++ {
			w.lv[4*k+i][c] = int32(ch[16*i]) - int32(8*i)
		}
	}
	return true
}

// iq3SumsGeneric sets sqx[c] and sq2[c] to ggml's sums Σ (w·x)·q and
// Σ (w·q)·q, q = 2·lv[i][c] + 1, added in index order from 0.
func iq3SumsGeneric(w *iq3Lanes, weight, xval *[32]float32) {
	for c := 0; c < 32; c++ {
		var sumqx, sumq2 float32
		for i := 0; i < 32; i++ {
			wi, q := weight[i], float32(2*w.lv[i][c]+1)
			sumqx += float32(float32(wi*xval[i]) * q)
			sumq2 += float32(float32(wi*q) * q)
		}
		w.sqx[c], w.sq2[c] = sumqx, sumq2
	}
}

// iq3Mode chooses the search for the tests: 0 the fastest available
// (iq3SearchLanes with the assembly kernels where they run, else
// iq3Search), 1 iq3Search, 2 iq3SearchLanes with the Go twins.
var iq3Mode = 0

// iq3SearchAuto is the scale search iq3Mode selects.
func iq3SearchAuto(t *iq3Tables, s *iq3Scratch, nis int, xxs bool, max float32) float32 {
	switch {
	case iq3Mode == 2 || (iq3Mode == 0 && iq3LanesOn()):
		return iq3SearchLanes(t, s, &s.lanes, nis, xxs, max)
	default:
		return iq3Search(t, s, nis, xxs, max)
	}
}

// iq3SearchLanes is iq3Search with the candidates in lanes (see iq3Lanes);
// same arguments and results. nis is at most 15.
func iq3SearchLanes(t *iq3Tables, s *iq3Scratch, w *iq3Lanes, nis int, xxs bool, max float32) float32 {
	const kMaxQ = 8
	ncand := 2*nis + 1
	for c := 0; c < ncand; c++ {
		id := float32(2*kMaxQ-1) + float32(float32(c-nis)*0.2)
		id /= max
		w.ids[c], w.scl[c] = id, 1/id
	}
	for c := ncand; c < 32; c++ { // spare lanes repeat the last candidate
		w.ids[c], w.scl[c] = w.ids[ncand-1], w.scl[ncand-1]
	}
	w.xv, w.wv = s.xval, s.waux
	cmask := uint32(1)<<ncand - 1
	asm := iq3LanesAsm && iq3Mode != 2
	if asm {
		iq3LevelsAsm(w, &s.xval, &t.kmap)
	} else {
		iq3LevelsGeneric(w, &s.xval, &t.kmap)
	}
	for k := 0; k < 8; k++ {
		var ok bool
		if asm {
			ok = iq3NeighboursAsm(w, k, cmask, t)
		} else {
			ok = iq3NeighboursGeneric(w, k, cmask, t)
		}
		if !ok {
			panic(&AbortError{What: iq3NoNeighbour})
		}
	}
	if asm {
		iq3SumsAsm(w, &s.weight, &s.xval)
	} else {
		iq3SumsGeneric(w, &s.weight, &s.xval)
	}
	var best float32
	scale := max / (2*kMaxQ - 1)
	bc := -1
	for c := 0; c < ncand; c++ {
		sumqx, sumq2 := w.sqx[c], w.sq2[c]
		if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
			scale = sumqx / sumq2
			best = float32(scale * sumqx)
			bc = c
		}
	}
	var isOnGrid [8]bool
	if bc >= 0 {
		for i := 0; i < 32; i++ {
			s.L[i] = int8(w.lv[i][bc])
		}
		for k := 0; k < 8; k++ {
			isOnGrid[k] = w.km[k][bc] >= 0
		}
	} else {
		s.L = [32]int8{}
		if xxs {
			isOnGrid = [8]bool{true, true, true, true, true, true, true, true}
		}
	}
	nb := iq3RefineLanesGo
	if asm {
		nb = iq3RefineLanesAsm
	}
	return s.refine(t, xxs, &isOnGrid, scale, nb)
}

// iq3RefineSearch names the neighbour search of iq3Scratch.refine.
type iq3RefineSearch int

const (
	iq3RefineModel iq3RefineSearch = iota
	iq3RefineLanesAsm
	iq3RefineLanesGo
)

// iq3NoNeighbour is the abort of iq3_find_best_neighbour.
const iq3NoNeighbour = "no grid neighbour at a finite distance (GGML_ASSERT(grid_index >= 0) in iq3_find_best_neighbour)"
