# GVL states, other threads' frames and the Ruby bug #20197 probe, on
# whichever Ruby runs this file (ruby_gem.sh: Debian's 3.1; ruby_gem_33.sh:
# a private 3.3).  What is expected depends on what the Ruby offers: GVL
# hooks from 3.2, rb_profile_thread_frames and the trigger API from 3.3.
require "minitest/autorun"
require "rbconfig"
require "stillprof/stackprof"

class Blocker
  def wait_here(io)
    io.read(1)
  end
end

class TestGvl < Minitest::Test
  V = Gem::Version.new(RUBY_VERSION)

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  def spin(secs)
    t = now + secs
    x = 0
    x += 1 while now < t
    x
  end

  # Two CPU-bound threads share the GVL (each waits while the other runs);
  # one thread blocks in IO#read (outside the GVL) the whole time.
  def profile_states
    r, w = IO.pipe
    res = StackProf.run(mode: :wall, interval: 1000, raw: true) do
      io = Thread.new { Blocker.new.wait_here(r) }
      io.name = "io"
      cpu = 2.times.map { |i| Thread.new { spin(0.6) }.tap { |t| t.name = "cpu#{i}" } }
      cpu.each(&:join)
      w.write("x")
      io.join
    end
    [res, res[:metadata][:threads].to_h { |t| [t[:name], t] }]
  ensure
    r&.close
    w&.close
  end

  def test_states_of_waiting_and_blocked_threads
    res, th = profile_states
    io, c0, c1 = th.values_at("io", "cpu0", "cpu1")
    msg = th.inspect + " " + res[:metadata][:gvl_states]
    # blocked in read(2) without the GVL: never running, never waiting
    assert_operator io[:blocked], :>, 100, msg
    assert_operator io[:running] + io[:gvl_wait], :<=, io[:samples] / 10, msg
    # each CPU thread ran and, while the other held the GVL, waited for it
    [c0, c1].each do |c|
      assert_operator c[:running], :>, 50, msg
      assert_operator c[:gvl_wait], :>, 50, msg
      assert_operator c[:blocked], :<=, c[:samples] / 10, msg
    end
    states = res[:metadata][:raw_states].uniq
    assert_includes states, :gvl_wait
    assert_includes states, :blocked
    if V >= Gem::Version.new("3.2")
      assert_match(/GVL hooks/, res[:metadata][:gvl_states])
    else
      assert_match(/heuristic/, res[:metadata][:gvl_states])
    end
  end

  def test_other_threads_frames
    res, = profile_states
    names = res[:frames].values.map { |f| f[:name] }
    if V >= Gem::Version.new("3.3")
      # rb_profile_thread_frames: the same full labels as the holder's own
      assert_match(/rb_profile_thread_frames/, res[:metadata][:thread_frames])
      assert_includes names, "Blocker#wait_here"
      assert_includes names, "IO#read"
    else
      assert_match(/backtrace_locations/, res[:metadata][:thread_frames])
      assert names.any? { |n| n =~ /wait_here/ }, names.inspect
    end
  end

  def test_bug_20197_probe_in_metadata
    res = StackProf.run(mode: :wall) { spin(0.05) }
    probe = res[:metadata][:ruby_bug_20197]
    if V >= Gem::Version.new("3.3.8")
      assert_match(/\Anot affected/, probe) # fixed in 3.3.8 and 3.4
      assert_match(/rb_postponed_job_trigger\z/, res[:metadata][:backend])
      assert_operator res[:metadata][:probe_ms], :<, 200
    elsif V < Gem::Version.new("3.3")
      assert_match(/\Anot applicable/, probe)
      assert_match(/register_one/, res[:metadata][:backend])
    else
      assert_match(/\A(not )?affected/, probe) # 3.3.0-3.3.7: either
    end
  end

  # The fallback for an affected 3.3.x, forced: only the parked helper
  # thread samples, no postponed job runs.
  def test_forced_helper_fallback
    script = <<~'RUBY'
      require "stillprof/stackprof"
      def hot; t = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 0.5; x = 0
        x += 1 while Process.clock_gettime(Process::CLOCK_MONOTONIC) < t; x; end
      r, w = IO.pipe
      res = StackProf.run(mode: :wall, interval: 1000, raw: true) do
        b = Thread.new { r.read(1) }
        hot
        sleep 0.2
        w.write("x"); b.join
      end
      cpu = StackProf.run(mode: :cpu, interval: 1000) { hot }
      m = res[:metadata]
      names = res[:frames].values.map { |f| f[:name] }
      print Marshal.dump([m[:ruby_bug_20197], m[:backend], m[:jobs], m[:idle_jobs],
                          res[:samples], names, cpu[:samples],
                          cpu[:frames].values.map { |f| f[:name] }])
    RUBY
    env = { "STILLPROF_RUBY_FORCE_HELPER" => "1" }
    out = IO.popen(env, [RbConfig.ruby, "-e", script], &:read)
    assert $?.success?, "forced-helper run failed"
    probe, backend, jobs, idle_jobs, samples, names, cpu_samples, cpu_names = Marshal.load(out)
    if V < Gem::Version.new("3.3")
      assert_match(/\Anot applicable/, probe) # 3.1/3.2 path: no fallback
      skip "no trigger API: the helper-only fallback is a >= 3.3 path"
    end
    assert_match(/\Anot probed: .*forced/, probe)
    assert_match(/helper Ruby thread/, backend)
    assert_equal 0, jobs, "no postponed job may run in the fallback"
    assert_operator idle_jobs, :>, 3
    # main spins 0.5 s: the helper only gets the GVL at Ruby's 100 ms
    # quantum, but the waited ticks are charged to the stacks it finds
    assert_operator samples, :>, 300
    assert_includes names, "Object#hot"
    assert_includes names, "Kernel#sleep"
    assert_operator cpu_samples, :>, 10 # CPU time, not wall: fewer on a loaded machine
    assert_includes cpu_names, "Object#hot"
  end
end
