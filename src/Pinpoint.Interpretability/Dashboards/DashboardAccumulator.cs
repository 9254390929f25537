namespace Pinpoint.Interpretability.Dashboards;

/// <summary>
/// Per-unit statistics over a stream of token rows, in memory fixed by the unit count and
/// <see cref="DashboardOptions"/>, never by the number of tokens:
/// <list type="bullet">
/// <item>the top-N contexts, in a bounded min-heap per unit (ties keep the earlier token, so the kept set is exactly
/// the first N of a stable sort by activation);</item>
/// <item>a histogram of the positive activations over (0, range], range a power of two that doubles (merging bin
/// pairs, which is exact) when a larger activation arrives;</item>
/// <item>interval samples: each token gets a pseudo-random key from (window, position), and each interval keeps the
/// tokens with the smallest keys — a uniform sample without replacement, and two intervals' samples merge exactly
/// into the sample of their union when the range doubles.</item>
/// </list>
/// Contexts (the token ± radius within its window, with the unit's activation at each) are copied when a token
/// enters a heap or a sample, from the batch that holds its whole window.
/// </summary>
public sealed class DashboardAccumulator
{
    private readonly DashboardOptions _o;
    private readonly int _units, _span;

    // Top heaps: slot u*Top + i; value, order (global row number, for ties), source, position, context.
    private readonly float[] _topValue;
    private readonly long[] _topOrder, _topSource;
    private readonly int[] _topPosition, _topCount;
    private readonly float[] _topFloor;
    private readonly int[] _topTokens;
    private readonly float[] _topActs;

    // Histogram: bins u*Bins + b over (0, _range[u]]; _range 0 until the first positive activation.
    private readonly long[] _bins;
    private readonly float[] _range;
    private readonly long[] _positive;
    private readonly double[] _sum;

    // Interval samples: slot (u*Intervals + k)*S + i, kept sorted by key ascending.
    private readonly ulong[] _sampleKey;
    private readonly long[] _sampleSource;
    private readonly int[] _samplePosition, _sampleCount;
    private readonly float[] _sampleValue;
    private readonly int[] _sampleTokens;
    private readonly float[] _sampleActs;

    private long _rows;
    private int[] _windowStart = [], _windowEnd = [];

    public DashboardAccumulator(int units, DashboardOptions options)
    {
        options.Check();
        if (units < 1) throw new ArgumentException($"{units} units: a dashboard needs at least one");
        _o = options;
        _units = units;
        _span = 2 * options.Radius + 1;
        int top = units * options.Top;
        _topValue = new float[top];
        _topOrder = new long[top];
        _topSource = new long[top];
        _topPosition = new int[top];
        _topCount = new int[units];
        _topFloor = new float[units];
        Array.Fill(_topFloor, float.NegativeInfinity);
        _topTokens = new int[(long)top * _span];
        _topActs = new float[(long)top * _span];
        _bins = new long[units * options.Bins];
        _range = new float[units];
        _positive = new long[units];
        _sum = new double[units];
        int samples = units * options.Intervals * options.SamplesPerInterval;
        _sampleKey = new ulong[samples];
        _sampleSource = new long[samples];
        _samplePosition = new int[samples];
        _sampleValue = new float[samples];
        _sampleCount = new int[units * options.Intervals];
        _sampleTokens = new int[(long)samples * _span];
        _sampleActs = new float[(long)samples * _span];
    }

    public int Units => _units;
    public long Rows => _rows;

    /// <summary>
    /// Adds <paramref name="rows"/> token rows of unit activations [rows, units]. Rows must come as whole windows in
    /// order (every position of a window, consecutively), as <see cref="Activations.HarvestPositions.Every"/> delivers them.
    /// </summary>
    public void Add(ReadOnlySpan<float> values, int rows, ReadOnlySpan<long> sources, ReadOnlySpan<int> positions, ReadOnlySpan<int> tokens)
    {
        if (values.Length < rows * _units) throw new ArgumentException($"{values.Length} values for {rows} rows of {_units} units");
        MapWindows(rows, sources, positions);
        int intervals = _o.Intervals, binsPerInterval = _o.BinsPerInterval, bins = _o.Bins;
        for (int r = 0; r < rows; r++)
        {
            var row = values.Slice(r * _units, _units);
            ulong key = SampleKey(sources[r], positions[r]);
            long order = _rows + r;
            for (int u = 0; u < _units; u++)
            {
                float v = row[u];
                if (v > _topFloor[u]) InsertTop(u, v, order, r, values, sources, positions, tokens);
                if (!(v > 0)) continue;
                _positive[u]++;
                _sum[u] += v;
                if (v > _range[u]) Grow(u, v);
                int bin = Math.Min(bins - 1, (int)(v / _range[u] * bins));
                _bins[u * bins + bin]++;
                if (_o.SamplesPerInterval == 0) continue;
                int interval = u * intervals + bin / binsPerInterval;
                int count = _sampleCount[interval];
                if (count < _o.SamplesPerInterval || key < _sampleKey[interval * _o.SamplesPerInterval + count - 1])
                    InsertSample(interval, u, key, v, r, values, sources, positions, tokens);
            }
        }
        _rows += rows;
    }

    /// <summary>A uniform 64-bit key per token (SplitMix64 of window and position): the same token gets the same key in every run.</summary>
    internal static ulong SampleKey(long source, int position)
    {
        ulong z = (ulong)source * 0x9E3779B97F4A7C15UL + (ulong)position + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private void MapWindows(int rows, ReadOnlySpan<long> sources, ReadOnlySpan<int> positions)
    {
        if (_windowStart.Length < rows)
        {
            _windowStart = new int[rows];
            _windowEnd = new int[rows];
        }
        int start = 0;
        for (int r = 1; r <= rows; r++)
        {
            if (r < rows && sources[r] == sources[start]) continue;
            if (positions[start] != 0 || positions[r - 1] != r - 1 - start)
                throw new ArgumentException($"rows of window {sources[start]} are not its consecutive positions from 0");
            for (int i = start; i < r; i++)
            {
                _windowStart[i] = start;
                _windowEnd[i] = r;
            }
            start = r;
        }
    }

    /// <summary>Copies the context of row <paramref name="row"/> for unit <paramref name="unit"/> into slot <paramref name="slot"/>.</summary>
    private void Capture(int[] tokenStore, float[] actStore, long slot, int unit, int row, ReadOnlySpan<float> values, ReadOnlySpan<int> tokens)
    {
        var ids = tokenStore.AsSpan((int)(slot * _span), _span);
        var acts = actStore.AsSpan((int)(slot * _span), _span);
        int first = row - _o.Radius;
        for (int i = 0; i < _span; i++)
        {
            int r = first + i;
            bool inside = r >= _windowStart[row] && r < _windowEnd[row];
            ids[i] = inside ? tokens[r] : -1;
            acts[i] = inside ? values[r * _units + unit] : 0f;
        }
    }

    // The heap's root (index 0 of the unit's slots) is its worst entry: the lowest activation, the latest among equals.
    private bool Worse(int a, int b) => _topValue[a] < _topValue[b] || (_topValue[a] == _topValue[b] && _topOrder[a] > _topOrder[b]);

    private void InsertTop(int unit, float value, long order, int row, ReadOnlySpan<float> values, ReadOnlySpan<long> sources, ReadOnlySpan<int> positions, ReadOnlySpan<int> tokens)
    {
        int baseSlot = unit * _o.Top, count = _topCount[unit];
        int i;
        if (count < _o.Top)
        {
            // Sift up from the new last slot.
            i = count;
            _topCount[unit] = ++count;
            Set(baseSlot + i, value, order, row, unit, values, sources, positions, tokens);
            while (i > 0)
            {
                int parent = (i - 1) / 2;
                if (!Worse(baseSlot + i, baseSlot + parent)) break;
                Swap(baseSlot + i, baseSlot + parent);
                i = parent;
            }
        }
        else
        {
            // Replace the root and sift down.
            Set(baseSlot, value, order, row, unit, values, sources, positions, tokens);
            i = 0;
            while (true)
            {
                int left = 2 * i + 1, right = left + 1, worst = i;
                if (left < count && Worse(baseSlot + left, baseSlot + worst)) worst = left;
                if (right < count && Worse(baseSlot + right, baseSlot + worst)) worst = right;
                if (worst == i) break;
                Swap(baseSlot + i, baseSlot + worst);
                i = worst;
            }
        }
        if (count == _o.Top) _topFloor[unit] = _topValue[baseSlot];
    }

    private void Set(int slot, float value, long order, int row, int unit, ReadOnlySpan<float> values, ReadOnlySpan<long> sources, ReadOnlySpan<int> positions, ReadOnlySpan<int> tokens)
    {
        _topValue[slot] = value;
        _topOrder[slot] = order;
        _topSource[slot] = sources[row];
        _topPosition[slot] = positions[row];
        Capture(_topTokens, _topActs, slot, unit, row, values, tokens);
    }

    private void Swap(int a, int b)
    {
        (_topValue[a], _topValue[b]) = (_topValue[b], _topValue[a]);
        (_topOrder[a], _topOrder[b]) = (_topOrder[b], _topOrder[a]);
        (_topSource[a], _topSource[b]) = (_topSource[b], _topSource[a]);
        (_topPosition[a], _topPosition[b]) = (_topPosition[b], _topPosition[a]);
        SwapContext(_topTokens, _topActs, a, b);
    }

    private void SwapContext(int[] tokenStore, float[] actStore, long a, long b)
    {
        var ta = tokenStore.AsSpan((int)(a * _span), _span);
        var tb = tokenStore.AsSpan((int)(b * _span), _span);
        var aa = actStore.AsSpan((int)(a * _span), _span);
        var ab = actStore.AsSpan((int)(b * _span), _span);
        for (int i = 0; i < _span; i++)
        {
            (ta[i], tb[i]) = (tb[i], ta[i]);
            (aa[i], ab[i]) = (ab[i], aa[i]);
        }
    }

    /// <summary>Inserts a token into an interval's sample (kept sorted by key, the largest key dropped when full).</summary>
    private void InsertSample(int interval, int unit, ulong key, float value, int row, ReadOnlySpan<float> values, ReadOnlySpan<long> sources, ReadOnlySpan<int> positions, ReadOnlySpan<int> tokens)
    {
        int s = _o.SamplesPerInterval, baseSlot = interval * s;
        int count = _sampleCount[interval];
        int i = count < s ? count++ : s - 1;
        _sampleCount[interval] = count;
        while (i > 0 && _sampleKey[baseSlot + i - 1] > key)
        {
            MoveSample(baseSlot + i - 1, baseSlot + i);
            i--;
        }
        int slot = baseSlot + i;
        _sampleKey[slot] = key;
        _sampleValue[slot] = value;
        _sampleSource[slot] = sources[row];
        _samplePosition[slot] = positions[row];
        Capture(_sampleTokens, _sampleActs, slot, unit, row, values, tokens);
    }

    private void MoveSample(int from, int to)
    {
        _sampleKey[to] = _sampleKey[from];
        _sampleValue[to] = _sampleValue[from];
        _sampleSource[to] = _sampleSource[from];
        _samplePosition[to] = _samplePosition[from];
        _sampleTokens.AsSpan(from * _span, _span).CopyTo(_sampleTokens.AsSpan(to * _span, _span));
        _sampleActs.AsSpan(from * _span, _span).CopyTo(_sampleActs.AsSpan(to * _span, _span));
    }

    /// <summary>Doubles the unit's range until it holds <paramref name="value"/>: bin pairs and interval pairs merge.</summary>
    private void Grow(int unit, float value)
    {
        if (_range[unit] == 0)
        {
            // The first positive activation: the smallest power of two at least as large.
            float range = MathF.Pow(2f, MathF.Ceiling(MathF.Log2(value)));
            _range[unit] = range >= value ? range : range * 2;
            return;
        }
        int bins = _o.Bins, intervals = _o.Intervals, s = _o.SamplesPerInterval;
        var b = _bins.AsSpan(unit * bins, bins);
        while (value > _range[unit])
        {
            _range[unit] *= 2;
            for (int j = 0; j < bins / 2; j++) b[j] = b[2 * j] + b[2 * j + 1];
            b[(bins / 2)..].Clear();
            if (s == 0) continue;
            for (int k = 0; k < intervals / 2; k++) MergeIntervals(unit * intervals + k, unit * intervals + 2 * k, unit * intervals + 2 * k + 1);
            for (int k = intervals / 2; k < intervals; k++) _sampleCount[unit * intervals + k] = 0;
        }
    }

    /// <summary>
    /// Into interval <paramref name="target"/>: the smallest keys of intervals <paramref name="a"/> and <paramref name="b"/>.
    /// Targets are filled in ascending order and target ≤ a, so no interval is overwritten before it is read; the
    /// chosen entries are staged first because target and a may be the same interval.
    /// </summary>
    private void MergeIntervals(int target, int a, int b)
    {
        int s = _o.SamplesPerInterval;
        int na = _sampleCount[a], nb = _sampleCount[b];
        Span<int> chosen = stackalloc int[s];
        int ia = 0, ib = 0, n = 0;
        while (n < s && (ia < na || ib < nb))
        {
            bool fromA = ib >= nb || (ia < na && _sampleKey[a * s + ia] <= _sampleKey[b * s + ib]);
            chosen[n++] = fromA ? a * s + ia++ : b * s + ib++;
        }
        StageAndWrite(chosen[..n], target * s);
        _sampleCount[target] = n;
    }

    private readonly List<(ulong Key, float Value, long Source, int Position, int[] Tokens, float[] Acts)> _stage = [];

    private void StageAndWrite(ReadOnlySpan<int> slots, int firstTarget)
    {
        _stage.Clear();
        foreach (int slot in slots)
            _stage.Add((_sampleKey[slot], _sampleValue[slot], _sampleSource[slot], _samplePosition[slot],
                _sampleTokens.AsSpan(slot * _span, _span).ToArray(), _sampleActs.AsSpan(slot * _span, _span).ToArray()));
        for (int i = 0; i < _stage.Count; i++)
        {
            int slot = firstTarget + i;
            var e = _stage[i];
            _sampleKey[slot] = e.Key;
            _sampleValue[slot] = e.Value;
            _sampleSource[slot] = e.Source;
            _samplePosition[slot] = e.Position;
            e.Tokens.CopyTo(_sampleTokens.AsSpan(slot * _span, _span));
            e.Acts.CopyTo(_sampleActs.AsSpan(slot * _span, _span));
        }
    }

    /// <summary>The unit's dashboard so far (logit effects are added by the caller).</summary>
    public UnitDashboard Dashboard(int unit, HashSet<int> usedTokens)
    {
        int baseSlot = unit * _o.Top, count = _topCount[unit];
        var order = Enumerable.Range(baseSlot, count)
            .OrderByDescending(i => _topValue[i]).ThenBy(i => _topOrder[i]).ToList();
        var top = order.Select(i => Context(_topTokens, _topActs, i, _topSource[i], _topPosition[i], _topValue[i], usedTokens)).ToList();
        int bins = _o.Bins, s = _o.SamplesPerInterval;
        double range = _range[unit];
        var counts = _bins.AsSpan(unit * bins, bins).ToArray();
        var intervals = new List<IntervalSample>();
        for (int k = 0; k < _o.Intervals; k++)
        {
            int interval = unit * _o.Intervals + k;
            long inInterval = 0;
            for (int j = 0; j < _o.BinsPerInterval; j++) inInterval += counts[k * _o.BinsPerInterval + j];
            var contexts = Enumerable.Range(interval * s, _sampleCount[interval]).OrderByDescending(i => _sampleValue[i])
                .Select(i => Context(_sampleTokens, _sampleActs, i, _sampleSource[i], _samplePosition[i], _sampleValue[i], usedTokens)).ToList();
            intervals.Add(new IntervalSample(range * k / _o.Intervals, range * (k + 1) / _o.Intervals, inInterval, contexts));
        }
        double density = _rows == 0 ? double.NaN : (double)_positive[unit] / _rows;
        double mean = _positive[unit] == 0 ? 0 : _sum[unit] / _positive[unit];
        double max = count == 0 ? double.NaN : top[0].Activation;
        return new UnitDashboard(unit, max, mean, density, new ActivationHistogram(range, _rows - _positive[unit], counts), top, intervals, null, null);
    }

    private ActivatingContext Context(int[] tokenStore, float[] actStore, int slot, long source, int position, float value, HashSet<int> usedTokens)
    {
        var ids = tokenStore.AsSpan(slot * _span, _span);
        int first = 0, last = _span;
        while (first < _span && ids[first] < 0) first++;
        while (last > first && ids[last - 1] < 0) last--;
        var kept = ids[first..last].ToArray();
        usedTokens.UnionWith(kept);
        var acts = actStore.AsSpan(slot * _span + first, last - first).ToArray();
        for (int i = 0; i < acts.Length; i++) acts[i] = Rounded(acts[i]);
        return new ActivatingContext(source, position, value, _o.Radius - first, kept, acts);
    }

    /// <summary>Context activations to four significant digits: they only shade tokens, and the JSON stays small.</summary>
    private static float Rounded(float v) => v == 0 || !float.IsFinite(v) ? v : (float)Math.Round(v, Math.Max(0, 3 - (int)Math.Floor(Math.Log10(Math.Abs(v)))));
}
