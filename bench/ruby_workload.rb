# bench/ruby_workload.rb - the Ruby row of bench/run: a fixed amount of
# work, CPU in Ruby methods plus some sleeping and pipe I/O, run unprofiled
# or under a StackProf (Debian's stackprof gem, or the stillprof gem's
# drop-in module: the caller picks it with -r), and one line of figures:
#
#   ruby profiler=P interval=US wall_ns=W cpu_ns=C samples=S expected=E missed=M
#
# W: wall time from StackProf.start to StackProf.stop (or of the bare
# work); C: CPU time of the whole process over the same span (a
# profiler's own threads included); S: results[:samples]; E: W / interval, the ticks a wall-mode
# profiler is asked for (one Ruby thread does all the work);
# M: results[:missed_samples].
#
# Usage: ruby [-r stackprof | -I bindings/ruby/lib -r stillprof/stackprof]
#        bench/ruby_workload.rb ITERATIONS [INTERVAL_US]
# With no StackProf loaded, or INTERVAL_US 0, the work runs unprofiled.

# CPU in a few methods at different depths, as an application has them.
def fib(n)
  n < 2 ? n : fib(n - 1) + fib(n - 2)
end

def render(rows)
  rows.map { |r| "#{r[:id]}:#{r[:name].upcase}:#{r[:score].round(2)}" }.join(",")
end

def crunch(i)
  rows = Array.new(500) { |k| { id: k, name: "row#{k + i}", score: (k * 37 % 101) / 7.0 } }
  rows.sort_by! { |r| -r[:score] }
  render(rows).bytesize + fib(22)
end

# Off-CPU: a short sleep and a round trip through a pipe.
def wait_a_little(rd, wr)
  sleep 0.002
  wr.write("x" * 64)
  rd.read(64).bytesize
end

def work(iterations)
  rd, wr = IO.pipe
  sum = 0
  iterations.times do |i|
    sum += crunch(i)
    sum += wait_a_little(rd, wr)
  end
  rd.close
  wr.close
  sum
end

iterations = Integer(ARGV[0] || 100)
interval = Integer(ARGV[1] || 1000)
profiler = if !defined?(StackProf) || interval <= 0
  "none"
elsif StackProf.respond_to?(:stillprof?) && StackProf.stillprof?
  "stillprof"
else
  "stackprof"
end

work(2) # warm up method caches outside the measurement
clock = Process::CLOCK_MONOTONIC
cpu_clock = Process::CLOCK_PROCESS_CPUTIME_ID
if profiler == "none"
  t0 = Process.clock_gettime(clock, :nanosecond)
  c0 = Process.clock_gettime(cpu_clock, :nanosecond)
  work(iterations)
  cpu = Process.clock_gettime(cpu_clock, :nanosecond) - c0
  wall = Process.clock_gettime(clock, :nanosecond) - t0
  samples = expected = missed = 0
else
  t0 = Process.clock_gettime(clock, :nanosecond)
  c0 = Process.clock_gettime(cpu_clock, :nanosecond)
  StackProf.start(mode: :wall, interval: interval, raw: false)
  work(iterations)
  StackProf.stop
  cpu = Process.clock_gettime(cpu_clock, :nanosecond) - c0
  wall = Process.clock_gettime(clock, :nanosecond) - t0
  r = StackProf.results
  samples = r[:samples]
  missed = r[:missed_samples] || 0
  expected = wall / 1000 / interval
end
puts "ruby profiler=#{profiler} interval=#{interval} wall_ns=#{wall} cpu_ns=#{cpu} " \
     "samples=#{samples} expected=#{expected} missed=#{missed}"
