using Pinpoint.Cli;

namespace Pinpoint.Tests.Cli;

public class CliArgsTests
{
    private static readonly CliOption Count = new("max-new-tokens", "N", "count", 'n');
    private static readonly CliOption Name = new("name", "TEXT", "name");
    private static readonly CliOption Json = new("json", null, "flag");
    private static readonly CliOption[] Options = [Count, Name, Json];

    [Fact]
    public void LongShortEqualsAndFlagForms()
    {
        var args = new CliArgs(["-n", "7", "--name=a=b", "--json"], Options);
        Assert.Equal(7, args.Int(Count, 0));
        Assert.Equal("a=b", args.String(Name));
        Assert.True(args.Flag(Json));
        Assert.Equal(-1.5f, new CliArgs(["--name", "-1.5"], Options).Float(Name, 0));
    }

    [Fact]
    public void RepeatableOptionKeepsEveryValueInOrder()
    {
        var folders = new CliOption("models", "DIR", "folders", Repeatable: true);
        var args = new CliArgs(["--models", "a", "--name", "x", "--models=b"], [folders, Name]);
        Assert.Equal(["a", "b"], args.Strings(folders));
        Assert.Empty(new CliArgs([], [folders]).Strings(folders));
    }

    [Fact]
    public void AbsentOptionsFallBack()
    {
        var args = new CliArgs([], Options);
        Assert.Equal(64, args.Int(Count, 64));
        Assert.Null(args.String(Name));
        Assert.False(args.Flag(Json));
        Assert.Null(args.IntList(Name));
        Assert.Contains("--name is required", Assert.Throws<CliException>(() => args.RequiredString(Name)).Message);
    }

    [Theory]
    [InlineData("--bogus|1", "unknown option --bogus")]
    [InlineData("-x|1", "unknown option -x")]
    [InlineData("stray", "unexpected argument 'stray'")]
    [InlineData("--name", "option --name needs a value")]
    [InlineData("--json=yes", "option --json takes no value")]
    [InlineData("-n|1|--max-new-tokens|2", "option --max-new-tokens given twice")]
    public void MalformedArgumentsAreUsageErrors(string joined, string message)
    {
        var e = Assert.Throws<CliException>(() => new CliArgs(joined.Split('|'), Options));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("abc", "'abc' is not an integer")]
    [InlineData("0", "below the minimum of 1")]
    public void BadIntegersNameTheOption(string value, string message)
    {
        var e = Assert.Throws<CliException>(() => new CliArgs(["-n", value], Options).Int(Count, 5, min: 1));
        Assert.Contains("--max-new-tokens", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void IntListParsesCommaSeparatedIds()
    {
        Assert.Equal([1, 2, 3], new CliArgs(["--name", "1, 2,3"], Options).IntList(Name)!);
        Assert.Throws<CliException>(() => new CliArgs(["--name", "1,x"], Options).IntList(Name));
        Assert.Throws<CliException>(() => new CliArgs(["--name", ","], Options).IntList(Name));
    }
}

public class RepeatableOptionTests
{
    private static readonly CliOption Steer = new("steer", "SPEC", "repeatable", Repeatable: true);

    [Fact]
    public void RepeatableOptionKeepsEveryValueInOrder()
    {
        var args = new CliArgs(["--steer", "a", "--steer=b,c", "--steer", "d"], [Steer]);
        Assert.Equal(["a", "b,c", "d"], args.Strings(Steer));
        Assert.Empty(new CliArgs([], [Steer]).Strings(Steer));
    }
}
