using System.Globalization;

namespace Pinpoint.Cli;

/// <summary>A command's options: <c>--name value</c>, <c>--flag</c>, with errors that name the option.</summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public CliArgs(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (!a.StartsWith("-", StringComparison.Ordinal) || a == "-")
                throw new CliException($"unexpected argument '{a}'");
            var name = a.TrimStart('-');
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (!flags.Contains(name))
            {
                if (i + 1 >= list.Count) throw new CliException($"option --{name} needs a value");
                value = list[++i];
            }
            if (!_options.TryAdd(name, value)) throw new CliException($"option --{name} given twice");
        }
    }

    public bool Flag(string name)
    {
        _read.Add(name);
        return _options.ContainsKey(name);
    }

    public string? String(string name)
    {
        _read.Add(name);
        return _options.TryGetValue(name, out var v) ? v : null;
    }

    public string RequiredString(string name) => String(name) ?? throw new CliException($"option --{name} is required");

    public int Int(string name, int fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new CliException($"option --{name}: '{s}' is not an integer");
    }

    public float Float(string name, float fallback)
    {
        var s = String(name);
        if (s is null) return fallback;
        return float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v)
            ? v
            : throw new CliException($"option --{name}: '{s}' is not a number");
    }

    /// <summary>Comma-separated integers, e.g. <c>--ids 1,2,3</c>.</summary>
    public int[]? IntList(string name)
    {
        var s = String(name);
        if (s is null) return null;
        return s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
                ? v
                : throw new CliException($"option --{name}: '{p}' is not an integer"))
            .ToArray();
    }

    /// <summary>Fails on options the command never asked about (typos must not be ignored silently).</summary>
    public void RejectUnknown(string command)
    {
        var unknown = _options.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new CliException($"{command}: unknown option{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}

/// <summary>A usage error: printed without a stack trace, exit code 2.</summary>
public sealed class CliException(string message) : Exception(message);
