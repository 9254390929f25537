namespace Pinpoint.Interpretability.Saes;

/// <summary>A seed for <see cref="Random"/> from (seed, index) that is the same in every process (HashCode is not).</summary>
public static class SeedMix
{
    public static int Of(int seed, long index)
    {
        ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index + 0x632BE59BD9B4E019UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }
}
