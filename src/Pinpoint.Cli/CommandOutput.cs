using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pinpoint.Interpretability.Reports;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pinpoint.Cli;

/// <summary>
/// Where a command writes its result: one JSON object (snake_case names, nothing else on stdout) with
/// <c>--json</c>, otherwise Spectre tables, plain text (no ANSI codes) when stdout is not a terminal. Notes about
/// the run (not its result) go to stderr.
/// </summary>
public sealed class CommandOutput(TextWriter stdout, bool json, TextWriter? stderr = null)
{
    /// <summary>The one JSON serializer of results (CLI and web API).</summary>
    public static readonly JsonSerializerOptions JsonOptions = ReportJson.Options;

    private IAnsiConsole? _console;

    public bool Json { get; } = json;

    /// <summary>Plain text output (generated text).</summary>
    public TextWriter Text => stdout;

    /// <summary>A one-line note on stderr, in both modes: something the user should know that is not an error.</summary>
    public void Note(string line) => (stderr ?? Console.Error).WriteLine($"pinpoint: note: {line}");

    public void WriteJson<T>(T value) => stdout.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    public void Write(IRenderable renderable) => (_console ??= CreateConsole()).Write(renderable);

    /// <summary>A two-column property table.</summary>
    public void WriteProperties(IEnumerable<(string Key, string Value)> rows)
    {
        var table = NewTable("property", "value");
        foreach (var (key, value) in rows) AddRow(table, key, value);
        Write(table);
    }

    public static Table NewTable(params string[] columns)
    {
        var table = new Table();
        foreach (var c in columns) table.AddColumn(new TableColumn(new Text(c)));
        return table;
    }

    /// <summary>Adds cells as literal text (never parsed as Spectre markup, since tokens may contain brackets).</summary>
    public static void AddRow(Table table, params string[] cells) => table.AddRow(cells.Select(c => (IRenderable)new Text(c)));

    /// <summary>An enum value as it appears in output: <c>RmsNorm</c> → <c>rms_norm</c>.</summary>
    public static string Name(Enum value) => ReportJson.Name(value);

    /// <summary>
    /// The JSON a result type serializes to, for help text: <c>{"ids":[int],"logits?":[number]}</c>, where <c>?</c>
    /// marks a field left out when it has no value.
    /// </summary>
    public static string JsonShape(Type type)
    {
        var nullability = new NullabilityInfoContext();
        var fields = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetCustomAttribute<JsonIgnoreAttribute>() is null).Select(p =>
        {
            bool optional = nullability.Create(p).ReadState == NullabilityState.Nullable;
            return $"\"{p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonOptions.PropertyNamingPolicy!.ConvertName(p.Name)}{(optional ? "?" : "")}\":{ValueShape(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType)}";
        });
        return "{" + string.Join(",", fields) + "}";
    }

    private static string ValueShape(Type type) => type switch
    {
        _ when type == typeof(string) => "string",
        _ when type == typeof(bool) => "bool",
        _ when type == typeof(int) || type == typeof(long) => "int",
        _ when type == typeof(float) || type == typeof(double) => "number",
        // Enums and the types with their own converter (components) are written as their names.
        { IsEnum: true } => "string",
        _ when type.IsDefined(typeof(JsonConverterAttribute), inherit: false) => "string",
        { IsArray: true } => $"[{ValueShape(type.GetElementType()!)}]",
        { IsGenericType: true } when type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) => $"[{ValueShape(type.GetGenericArguments()[0])}]",
        _ => JsonShape(type),
    };

    private IAnsiConsole CreateConsole()
    {
        bool terminal = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = 160;
        return console;
    }

    public static string Int(int v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string Number(double v, string format = "F3") => v.ToString(format, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A token or text for a table cell, quoted, with control characters (newlines, tabs, ...) escaped.</summary>
    public static string Quote(string token) => Pinpoint.Models.Tokenizers.TokenDisplay.Quote(token);
}
