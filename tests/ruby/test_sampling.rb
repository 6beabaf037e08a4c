# What stillprof samples: a known workload's attribution, Puma-like
# threads, start/stop cycles, fork.  Figures are printed; the bounds are
# wide enough for a loaded 2-CPU machine but fail on a wrong attribution.
require "minitest/autorun"
require "stillprof/stackprof"

class TestSampling < Minitest::Test
  def teardown
    StackProf.stop
    StackProf.results
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def hot(seconds)
    t = now + seconds
    x = 0
    x += 1 while now < t
    x
  end

  def self_share(r, name)
    r[:frames].values.select { |f| f[:name] == name }.sum { |f| f[:samples] } * 100.0 / r[:samples]
  end

  def total_share(r, name)
    r[:frames].values.select { |f| f[:name] == name }.sum { |f| f[:total_samples] } * 100.0 / r[:samples]
  end

  # 70 % in one method, 30 % sleeping, in 20 rounds of 70 + 30 ms.  The
  # expected shares are the measured wall times of the two phases (a
  # loaded machine oversleeps).
  def test_known_workload
    t_hot = t_sleep = 0.0
    r = StackProf.run(mode: :wall, interval: 1000, raw: true, threads: :current) do
      20.times do
        a = now
        hot(0.070)
        b = now
        sleep 0.030
        c = now
        t_hot += b - a
        t_sleep += c - b
      end
    end
    want = 100 * t_hot / (t_hot + t_sleep)
    h = total_share(r, "TestSampling#hot")
    s = self_share(r, "Kernel#sleep")
    puts format("\nworkload: measured hot %.1f %% / sleep %.1f %%; profile hot %.1f %%, sleep %.1f %%; " \
                "%d samples, %d jobs, %d delayed",
                want, 100 - want, h, s, r[:samples], r[:metadata][:jobs], r[:metadata][:delayed_samples])
    assert_in_delta want, h, 4
    assert_in_delta 100 - want, s, 4
    assert_operator r[:samples], :>=, 1500 # >= 2 s at 1 ms, ticks caught up
  end

  # Puma-like: a CPU worker, one in IO wait, one sleeping; main joins.
  def test_threads_all_appear
    rd, wr = IO.pipe
    r = StackProf.run(mode: :wall, interval: 1000, raw: true) do
      ths = []
      ths << Thread.new { Thread.current.name = "cpu"; hot(0.6) }
      ths << Thread.new { Thread.current.name = "io"; rd.read(1) }
      ths << Thread.new { Thread.current.name = "sleeper"; sleep 0.6 }
      sleep 0.6
      wr.write("x")
      ths.each(&:join)
    end
    threads = r[:metadata][:threads].to_h { |t| [t[:name], t] }
    puts "\nthreads: " + threads.map { |n, t| "#{n}=#{t[:samples]} (run #{t[:running]}, gvl #{t[:gvl_wait]}, blocked #{t[:blocked]})" }.join(", ")
    %w[main cpu io sleeper].each { |n| assert threads.key?(n), "#{n} sampled: #{threads.keys}" }
    refute threads.key?("stillprof-idle"), "the idle helper is not profiled"
    # each worker lives ~0.6 s, main a little longer (it starts and joins
    # them): every worker gets a main-sized share of samples, not a sliver
    base = threads["main"][:samples]
    %w[cpu io sleeper].each do |n|
      assert_operator threads[n][:samples], :>=, base * 0.5, n
      assert_operator threads[n][:samples], :<=, base * 1.1, n
    end
    assert_operator threads["io"][:blocked], :>, threads["io"][:samples] / 2
    assert_operator threads["sleeper"][:blocked], :>, threads["sleeper"][:samples] / 2
    names = r[:frames].values.map { |f| f[:name] }
    assert names.any? { |n| n =~ /read/ }, names.inspect
    assert names.any? { |n| n =~ /sleep/ }
    assert names.any? { |n| n =~ /hot/ }
    # :raw_threads tags every raw record with its thread
    tids = r[:metadata][:threads].map { |t| t[:tid] }
    assert_empty r[:metadata][:raw_threads].uniq - tids
  end

  # Everything idle: no thread holds the GVL, so no postponed job runs;
  # the parked helper thread turns those ticks into samples.
  def test_whole_process_idle
    [:all, :current].each do |threads|
      r = StackProf.run(mode: :wall, interval: 1000, raw: true, threads: threads) { sleep 0.5 }
      md = r[:metadata]
      # Threads are listed in the order of their first sample: with
      # threads: :all, one another test left alive can come first.
      main = md[:threads].find { |t| t[:name] == "main" }
      refute_nil main, md[:threads].inspect
      puts format("\nidle sleep 0.5 (threads: %s): %d samples in main (%d in all threads), %d jobs, " \
                  "%d idle-helper runs, %d missed",
                  threads, main[:samples], r[:samples], md[:jobs], md[:idle_jobs], r[:missed_samples])
      assert_operator main[:samples], :>=, 350
      assert_operator main[:samples], :<=, 700
      assert_equal main[:samples], r[:samples] if threads == :current
      assert_operator md[:idle_jobs], :>, 0
      sleeps = r[:frames].values.select { |f| f[:name] =~ /sleep/ }.sum { |f| f[:samples] }
      assert_operator sleeps, :>=, main[:samples] * 0.9
      # the helper samples nobody as itself and is gone after stop
      refute md[:threads].any? { |t| t[:name] == "stillprof-idle" }, md[:threads].inspect
      refute Thread.list.any? { |t| t.name == "stillprof-idle" }
    end
  end

  # A thread that starts, sleeps and exits while main waits in join: no
  # thread holds the GVL during its whole life.
  def test_thread_living_in_idle_period
    life = nil
    r = StackProf.run(mode: :wall, interval: 1000, raw: true) do
      sleep 0.05
      t = Thread.new do
        Thread.current.name = "short"
        a = now
        sleep 0.2
        life = now - a
      end
      t.join
      sleep 0.05
    end
    threads = r[:metadata][:threads].to_h { |t| [t[:name], t] }
    short = threads["short"]
    puts format("\nshort thread: lived %.0f ms, %s samples (blocked %s); main %d; %d idle-helper runs",
                life * 1000, short && short[:samples], short && short[:blocked],
                threads["main"][:samples], r[:metadata][:idle_jobs])
    refute_nil short, threads.keys.inspect
    ms = life * 1000
    assert_operator short[:samples], :>=, ms * 0.6
    assert_operator short[:samples], :<=, ms * 1.2 + 20
    assert_operator short[:blocked], :>, short[:samples] / 2
    refute threads.key?("stillprof-idle")
    assert_operator threads["main"][:samples], :>=, short[:samples]
  end

  def test_current_thread_only
    r = StackProf.run(mode: :wall, interval: 1000, threads: :current) do
      t = Thread.new { hot(0.3) }
      t.join
    end
    threads = r[:metadata][:threads]
    assert_equal 1, threads.size, threads.inspect
    join = r[:frames].values.select { |f| f[:name] =~ /join/ }.sum { |f| f[:samples] }
    assert_operator join * 100.0 / r[:samples], :>, 80
  end

  def test_thousand_start_stop_cycles
    t0 = now
    1000.times do |i|
      StackProf.start(mode: i.even? ? :wall : :cpu, interval: 100, raw: true)
      x = 0
      200.times { x += 1 }
      StackProf.stop
    end
    r = StackProf.results
    refute_nil r
    puts format("\n1000 start/stop cycles: %.2f s, %d samples", now - t0, r[:samples])
    refute StackProf.running?
  end

  def test_fork_child_is_clean
    StackProf.start(mode: :wall, interval: 1000)
    hot(0.05)
    rd, wr = IO.pipe
    pid = fork do
      rd.close
      running = StackProf.running?
      ticker = Dir.children("/proc/self/task").size
      x = 0
      100_000.times { x += 1 }
      wr.write(Marshal.dump([running, ticker, StackProf.start(mode: :custom)]))
      StackProf.stop
      exit!(0)
    end
    wr.close
    running, tasks, restarted = Marshal.load(rd.read)
    Process.wait(pid)
    assert $?.success?
    refute running, "the child is not profiling"
    # Ruby >= 3.3 starts its own timer thread in a child: compare with a
    # child of an unprofiled moment instead of 1
    base = IO.popen("-") { |io| io ? io.read.to_i : (print Dir.children("/proc/self/task").size; exit!(0)) }
    assert_equal base, tasks, "the child has no sampling thread"
    assert restarted
    assert StackProf.running?
    StackProf.stop
    assert_operator StackProf.results[:samples], :>, 0
  end
end
