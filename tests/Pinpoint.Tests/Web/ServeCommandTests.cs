using Pinpoint.Tests.Cli;

namespace Pinpoint.Tests.Web;

/// <summary><c>pinpoint serve</c>'s own argument errors, reported before anything listens.</summary>
public class ServeCommandTests
{
    [Fact]
    public void HelpDescribesTheOptionsAndBadArgumentsFailClearly()
    {
        var help = Cli.Cli.Run("serve", "--help");
        Assert.Equal(0, help.Code);
        foreach (var option in new[] { "--port P", "--host ADDR", "--token T", "--models DIR" }) Assert.Contains(option, help.Out);
        Cli.Cli.Run("serve", "--token", "short").AssertFailed(2, "at least 8 characters");
        Cli.Cli.Run("serve", "--port", "-1").AssertFailed(2, "--port");
        Cli.Cli.Run("serve", "--port", "0", "--models", "/no/such/folder").AssertFailed(1, "/no/such/folder");
    }
}
