// Decodes a `loadgen --hlog` file with HdrHistogram's reference implementation (Debian's
// libhdrhistogram-java) and prints what HdrLogJavaTest compares with the loadgen's row, one
// "name value" per line: intervals, count, min, max, p50, p99, p999 (values as stored: ns).
//
//   java -cp /usr/share/java/hdrhistogram.jar HdrLogDecode.java FILE
//
// Run from source (Java 11+'s single-file launch): no build step and no class files, at the cost
// of the JDK's compiler module (default-jdk-headless) rather than only a JRE.
import java.io.File;
import org.HdrHistogram.EncodableHistogram;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramLogReader;

public class HdrLogDecode {
  public static void main(String[] args) throws Exception {
    HistogramLogReader reader = new HistogramLogReader(new File(args[0]));
    Histogram total = null;
    int intervals = 0;
    EncodableHistogram next;
    while ((next = reader.nextIntervalHistogram()) != null) {
      Histogram h = (Histogram) next;
      if (total == null) {
        total = h.copy();
      } else {
        total.add(h);
      }
      ++intervals;
    }
    System.out.println("intervals " + intervals);
    if (total == null) return;
    System.out.println("count " + total.getTotalCount());
    System.out.println("min " + total.getMinValue());
    System.out.println("max " + total.getMaxValue());
    System.out.println("p50 " + total.getValueAtPercentile(50.0));
    System.out.println("p99 " + total.getValueAtPercentile(99.0));
    System.out.println("p999 " + total.getValueAtPercentile(99.9));
    System.out.println("significant_digits " + total.getNumberOfSignificantValueDigits());
  }
}
