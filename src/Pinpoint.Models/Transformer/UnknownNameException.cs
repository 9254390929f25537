namespace Pinpoint.Models.Transformer;

/// <summary>A hook or weight name the model does not have; the message lists the closest names it does have.</summary>
public sealed class UnknownNameException(string message, IReadOnlyList<string> closest) : ArgumentException(message)
{
    public IReadOnlyList<string> Closest { get; } = closest;

    /// <summary>Throws unless <paramref name="name"/> is in <paramref name="known"/>; <paramref name="kind"/> says what it names ("hook").</summary>
    public static void ThrowIfUnknown(string name, IReadOnlyCollection<string> known, string kind)
    {
        if (known.Contains(name)) return;
        var closest = Closest3(name, known);
        throw new UnknownNameException($"unknown {kind} '{name}'; closest: {string.Join(", ", closest)}", closest);
    }

    private static List<string> Closest3(string name, IEnumerable<string> known) =>
        known.Select(k => (Name: k, Distance: EditDistance(name, k))).OrderBy(k => k.Distance).ThenBy(k => k.Name, StringComparer.Ordinal)
            .Take(3).Select(k => k.Name).ToList();

    /// <summary>Levenshtein distance: insertions, deletions and substitutions of one character each cost 1.</summary>
    public static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
