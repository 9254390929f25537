using System.Globalization;

namespace Pinpoint.Cli;

/// <summary>One option a command accepts: <c>--name VALUE</c>, or a flag when <paramref name="Value"/> is null.</summary>
/// <param name="Name">Long name, without the leading <c>--</c>.</param>
/// <param name="Value">Placeholder for the value in help text (e.g. <c>PATH</c>); null for a flag.</param>
/// <param name="Description">One line for the command's help.</param>
/// <param name="Short">Single-letter alias used as <c>-x</c>.</param>
/// <param name="Repeatable">May be given more than once (read with <see cref="CliArgs.Strings"/>).</param>
public sealed record CliOption(string Name, string? Value, string Description, char? Short = null, bool Repeatable = false)
{
    public bool IsFlag => Value is null;

    /// <summary>How the option is spelled in help text, e.g. <c>-n, --max-new-tokens N</c>.</summary>
    public string Usage => (Short is { } s ? $"-{s}, " : "") + $"--{Name}" + (Value is null ? "" : $" {Value}");
}

/// <summary>
/// A command's parsed options: <c>--name value</c>, <c>--name=value</c>, <c>-x value</c> and <c>--flag</c>.
/// Only the declared options are accepted, so typos fail instead of being ignored; errors name the option.
/// </summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _repeated = new(StringComparer.Ordinal);

    public CliArgs(IEnumerable<string> args, IReadOnlyCollection<CliOption> options)
    {
        var byName = options.ToDictionary(o => o.Name, StringComparer.Ordinal);
        var byShort = options.Where(o => o.Short is not null).ToDictionary(o => o.Short!.Value);
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            CliOption? option;
            string? value = null;
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var name = a[2..];
                int eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    value = name[(eq + 1)..];
                    name = name[..eq];
                }
                option = byName.GetValueOrDefault(name) ?? throw new CliException($"unknown option --{name}");
                if (option.IsFlag && value is not null) throw new CliException($"option --{name} takes no value");
            }
            else if (a.Length == 2 && a[0] == '-' && char.IsAsciiLetter(a[1]))
                option = byShort.GetValueOrDefault(a[1]) ?? throw new CliException($"unknown option {a}");
            else
                throw new CliException($"unexpected argument '{a}'");

            if (!option.IsFlag && value is null)
            {
                if (i + 1 >= list.Count) throw new CliException($"option --{option.Name} needs a value ({option.Value})");
                value = list[++i];
            }
            if (option.Repeatable && value is not null)
            {
                if (!_repeated.TryGetValue(option.Name, out var given)) _repeated[option.Name] = given = [];
                given.Add(value);
                continue;
            }
            if (!_values.TryAdd(option.Name, value)) throw new CliException($"option --{option.Name} given twice");
        }
    }

    public bool Flag(CliOption option) => _values.ContainsKey(option.Name);

    /// <summary>Every value of a repeatable option, in the order given; empty when it is absent.</summary>
    public IReadOnlyList<string> Strings(CliOption option) => _repeated.GetValueOrDefault(option.Name) ?? [];

    public string? String(CliOption option) => _values.GetValueOrDefault(option.Name);

    public string RequiredString(CliOption option) => String(option) ?? throw new CliException($"option --{option.Name} is required");

    public int Int(CliOption option, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = String(option);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            throw new CliException($"option --{option.Name}: '{s}' is not an integer");
        if (v < min) throw new CliException($"option --{option.Name}: {v} is below the minimum of {min}");
        return v <= max ? v : throw new CliException($"option --{option.Name}: {v} is above the maximum of {max}");
    }

    public float Float(CliOption option, float fallback)
    {
        var s = String(option);
        if (s is null) return fallback;
        return float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v)
            ? v
            : throw new CliException($"option --{option.Name}: '{s}' is not a number");
    }

    public double? Double(CliOption option)
    {
        var s = String(option);
        if (s is null) return null;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v
            : throw new CliException($"option --{option.Name}: '{s}' is not a number");
    }

    /// <summary>Comma-separated integers, e.g. <c>--ids 1,2,3</c>; null when the option is absent.</summary>
    public int[]? IntList(CliOption option)
    {
        var s = String(option);
        if (s is null) return null;
        var values = s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
                ? v
                : throw new CliException($"option --{option.Name}: '{p}' is not an integer"))
            .ToArray();
        return values.Length > 0 ? values : throw new CliException($"option --{option.Name} lists no integers");
    }
}

/// <summary>A usage error: printed without a stack trace, exit code 2.</summary>
public sealed class CliException(string message) : Exception(message);
