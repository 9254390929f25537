using System.Diagnostics;

namespace Pinpoint.Bench;

public static class BenchTiming
{
    /// <summary>
    /// Best wall time of each action over <paramref name="rounds"/> rounds after one warm-up round; the actions
    /// alternate within a round so background load on the shared machine hits them alike.
    /// </summary>
    public static double[] BestSeconds(int rounds, params Action[] actions)
    {
        var best = new double[actions.Length];
        Array.Fill(best, double.MaxValue);
        for (int round = 0; round <= rounds; round++)
        {
            for (int i = 0; i < actions.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                actions[i]();
                if (round > 0) best[i] = Math.Min(best[i], sw.Elapsed.TotalSeconds);
            }
        }
        return best;
    }
}
