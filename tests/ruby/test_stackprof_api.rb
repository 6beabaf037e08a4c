# API compatibility of require "stillprof/stackprof" with stackprof 0.2.28
# (research/stackprof-format.md sections 1 and 4), on a real Ruby.
require "minitest/autorun"
require "stringio"
require "tempfile"
require "tmpdir"
require "fileutils"
require "stillprof/stackprof"

class TestStackProfAPI < Minitest::Test
  def teardown
    StackProf.stop
    StackProf.results
  end

  def spin(seconds)
    t = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
    x = 0
    x += 1 while Process.clock_gettime(Process::CLOCK_MONOTONIC) < t
    x
  end

  def test_methods_and_arities
    %i[run start stop results running? sample use_postponed_job!].each do |m|
      assert StackProf.respond_to?(m), m
    end
    assert_equal(-1, StackProf.method(:start).arity)
    assert_equal(-1, StackProf.method(:run).arity)
    assert_equal(-1, StackProf.method(:results).arity)
    assert_equal 0, StackProf.method(:sample).arity
    assert_equal "0.2.28", StackProf::VERSION
    assert_nil StackProf.use_postponed_job!
  end

  def test_errors
    e = assert_raises(ArgumentError) { StackProf.start(mode: :foo) }
    assert_equal "unknown profiler mode", e.message
    assert_raises(ArgumentError) { StackProf.start(mode: "wall") }
    [0, -1, 1_000_000].each do |iv|
      e = assert_raises(ArgumentError) { StackProf.start(interval: iv) }
      assert_equal "interval is a number of microseconds between 1 and 1 million", e.message
      assert_raises(ArgumentError) { StackProf.start(mode: :object, interval: iv) }
    end
    e = assert_raises(TypeError) { StackProf.start(interval: "x") }
    assert_equal "no implicit conversion of String into Integer", e.message
    e = assert_raises(TypeError) { StackProf.start(interval: true) }
    assert_equal "no implicit conversion of true into Integer", e.message
    e = assert_raises(ArgumentError) { StackProf.start(metadata: 1) }
    assert_equal "metadata should be a hash", e.message
    e = assert_raises(ArgumentError) { StackProf.start(1) }
    assert_equal "wrong number of arguments (given 1, expected 0)", e.message
    assert_raises(LocalJumpError) { StackProf.run }
    refute StackProf.running?
    e = assert_raises(TypeError) { StackProf.run(mode: :custom, out: 5) { StackProf.sample } }
    assert_equal "no implicit conversion of Integer into String", e.message
  end

  def test_life_cycle
    refute StackProf.running?
    assert_equal false, StackProf.stop
    assert_equal false, StackProf.sample
    assert_nil StackProf.results
    assert_equal true, StackProf.start(mode: :custom)
    assert_equal false, StackProf.start # already running
    assert_equal false, StackProf.start(mode: :bogus) # running wins
    assert StackProf.running?
    assert_equal true, StackProf.sample
    assert_nil StackProf.results # nil while running
    assert_equal true, StackProf.stop
    assert_equal false, StackProf.stop
    r = StackProf.results
    assert_equal 1, r[:samples]
    assert_nil StackProf.results # second time
  end

  def test_accumulates_until_results
    StackProf.start(mode: :custom)
    StackProf.sample
    StackProf.stop
    StackProf.start(mode: :custom, metadata: { x: 1 })
    StackProf.sample
    StackProf.sample
    StackProf.stop
    r = StackProf.results
    assert_equal 3, r[:samples]
    assert_equal 1, r[:metadata][:x]
  end

  def test_shape_custom
    r = StackProf.run(mode: :custom, interval: 100, metadata: { app: "t" }) { StackProf.sample }
    assert_equal %i[version mode interval samples gc_samples missed_samples metadata frames], r.keys
    assert_equal 1.2, r[:version]
    assert_equal :custom, r[:mode]
    assert_nil r[:interval]
    assert_equal "t", r[:metadata][:app]
    sample = r[:frames].values.find { |f| f[:name] == "StackProf.sample" || f[:name] == "Stillprof.sample" }
    refute_nil sample, r[:frames].values.map { |f| f[:name] }.inspect
    r[:frames].each do |id, f|
      assert_kind_of Integer, id
      refute_includes [1, 3, 5], id
      assert_equal %i[name file], f.keys.first(2)
      assert_kind_of String, f[:name]
      assert_kind_of String, f[:file]
      assert_operator f[:total_samples], :>=, f[:samples]
      refute f.key?(:line) && f[:line] == 0
    end
    cfunc = r[:frames].values.find { |f| f[:file] == "<cfunc>" }
    assert cfunc.key?(:line) && cfunc[:line].nil?
    # edges: caller -> callee ids that exist
    r[:frames].each_value do |f|
      (f[:edges] || {}).each_key { |callee| assert r[:frames].key?(callee) }
      (f[:lines] || {}).each_value { |v| assert_equal 2, v.size }
    end
  end

  def test_empty_run_and_raw_keys
    r = StackProf.run(mode: :wall, raw: true) {}
    assert_equal({}, r[:frames]) if r[:samples] == 0
    refute r.key?(:raw) if r[:samples] == 0
    r = StackProf.run(mode: :wall, raw: true, interval: 500) { spin(0.05) }
    assert_equal %i[version mode interval samples gc_samples missed_samples metadata frames
                    raw raw_lines raw_sample_timestamps raw_timestamp_deltas], r.keys
    assert_equal :wall, r[:mode]
    assert_equal 500, r[:interval]
    check_raw(r)
  end

  def check_raw(r)
    raw, lines = r[:raw], r[:raw_lines]
    assert_equal raw.size, lines.size
    i = 0
    total = 0
    while i < raw.size
      len = raw[i]
      assert_equal len, lines[i]
      raw[i + 1, len].each { |id| assert r[:frames].key?(id), "raw id #{id} has a frame" }
      assert_equal raw[i + len + 1], lines[i + len + 1]
      total += raw[i + len + 1]
      i += len + 2
    end
    assert_equal r[:samples], total
    assert_equal r[:samples], r[:raw_sample_timestamps].size
    assert_equal r[:samples], r[:raw_timestamp_deltas].size
    assert_equal r[:raw].count { true } > 0, true
    assert_equal r[:metadata][:raw_threads].size, r[:metadata][:raw_states].size
  end

  def test_float_interval_kept_and_aggregate_false
    r = StackProf.run(mode: :wall, interval: 1e6 / 101, raw: true, aggregate: false) { spin(0.1) }
    assert_kind_of Float, r[:interval]
    assert_operator r[:samples], :>, 0
    r[:frames].each_value do |f|
      refute f.key?(:edges)
      refute f.key?(:lines)
    end
    check_raw(r)
  end

  def test_cpu_mode_only_counts_cpu
    r = StackProf.run(mode: :cpu, interval: 1000, raw: true) { spin(0.15); sleep 0.15 }
    assert_equal :cpu, r[:mode]
    names = r[:frames].values.select { |f| f[:samples] > 0 }.map { |f| f[:name] }
    sleep_f = r[:frames].values.find { |f| f[:name] == "Kernel#sleep" }
    spin_self = r[:frames].values.select { |f| f[:name] =~ /spin|clock_gettime/ }.sum { |f| f[:samples] }
    assert_operator spin_self, :>, 0, names.inspect
    assert_operator((sleep_f ? sleep_f[:samples] : 0), :<=, r[:samples] / 5)
  end

  def test_object_mode
    r = StackProf.run(mode: :object, interval: 10) { 10_000.times { Object.new } }
    assert_equal :object, r[:mode]
    assert_equal 10, r[:interval]
    assert_operator r[:samples], :>=, 900
    assert_operator r[:missed_samples], :>=, 9 * r[:samples] - 100
    assert_equal 0, r[:gc_samples]
  end

  def test_gc_frames
    r = StackProf.run(mode: :wall, interval: 100, raw: true) do
      t = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 1
      while Process.clock_gettime(Process::CLOCK_MONOTONIC) < t
        GC.start
        Array.new(20_000) { "x" * 10 }
      end
    end
    assert_operator r[:gc_samples], :>, 0
    gc = r[:frames][1]
    refute_nil gc
    assert_equal "(garbage collection)", gc[:name]
    assert_equal "", gc[:file]
    refute gc.key?(:line)
    assert r[:frames].key?(3) || r[:frames].key?(5)
    assert_equal "(marking)", r[:frames][3][:name] if r[:frames][3]
    assert_equal "(sweeping)", r[:frames][5][:name] if r[:frames][5]
    check_raw(r)
    r = StackProf.run(mode: :wall, interval: 100, ignore_gc: true) { 20.times { GC.start } }
    assert_equal 0, r[:gc_samples]
    refute r[:frames].key?(1)
  end

  def test_out_path_and_io
    f = Tempfile.new(["sp", ".dump"])
    io = StackProf.run(mode: :custom, out: f.path) { StackProf.sample }
    assert_kind_of File, io
    refute io.closed?
    io.close
    h = Marshal.load(File.binread(f.path))
    assert_equal 1, h[:samples]
    r, w = IO.pipe
    out = StackProf.run(mode: :custom, raw: true) { StackProf.sample }
    refute_nil out
    StackProf.start(mode: :custom)
    StackProf.sample
    StackProf.stop
    assert_same w, StackProf.results(w)
    w.close
    assert_equal 1, Marshal.load(r.read)[:samples]
    assert_nil StackProf.results(f.path) # nothing left
  end

  def test_results_same_shape_as_real_stackprof
    script = <<~'RUBY'
      require "stackprof"
      r = StackProf.run(mode: :custom, raw: true, metadata: {a: 1}) { StackProf.sample; StackProf.sample }
      f = r[:frames].values.first
      print Marshal.dump([r.keys, r[:frames].values.map { |x| x.keys }.uniq.sort, r[:mode], r[:interval], r[:version]])
    RUBY
    out = IO.popen([RbConfig.ruby, "-e", script], &:read)
    skip "stackprof gem not installed" unless $?.success?
    keys, fkeys, mode, interval, version = Marshal.load(out)
    r = StackProf.run(mode: :custom, raw: true, metadata: { a: 1 }) { StackProf.sample; StackProf.sample }
    # 0.2.21 (Debian) has no :raw_lines; everything else matches 0.2.28
    assert_equal keys, r.keys - (keys.include?(:raw_lines) ? [] : [:raw_lines])
    assert_equal mode, r[:mode]
    interval.nil? ? assert_nil(r[:interval]) : assert_equal(interval, r[:interval])
    assert_equal version, r[:version]
    # every frame shape of ours is one stackprof writes (key order too)
    ours = r[:frames].values.map(&:keys).uniq.sort
    assert_empty ours - fkeys
  end

  def test_middleware_saves_every_n_requests
    dir = Dir.mktmpdir("stillprof-mw") + "/"
    app = ->(env) { t = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 0.02
                    x = 0; x += 1 while Process.clock_gettime(Process::CLOCK_MONOTONIC) < t
                    [200, {}, ["ok"]] }
    m = StackProf::Middleware.new(app, enabled: ->(env) { env["go"] }, mode: :wall,
                                  raw: true, save_every: 2, path: dir)
    assert_equal 200, m.call({ "go" => true })[0]
    m.call({}) # disabled: not counted, not profiled
    refute StackProf.running?
    m.call({ "go" => true })
    dumps = Dir[dir + "stackprof-wall-*.dump"]
    assert_equal 1, dumps.size
    h = Marshal.load(File.binread(dumps[0]))
    assert_operator h[:samples], :>, 10
    assert h.key?(:raw)
  ensure
    FileUtils.rm_rf(dir) if dir
  end

  def test_autorun_writes_a_dump_at_exit
    Dir.mktmpdir("stillprof-auto") do |d|
      out = File.join(d, "auto.dump")
      env = { "STILLPROF_OUT" => out, "STILLPROF_RAW" => "1", "STILLPROF_INTERVAL" => "500" }
      err = IO.popen(env, [RbConfig.ruby, "-r", "stillprof/autorun", "-e", "sleep 0.3"],
                     err: [:child, :out], &:read)
      assert_includes err, "results dumped at: #{out}"
      h = Marshal.load(File.binread(out))
      assert_equal 500, h[:interval]
      assert_operator h[:samples], :>, 10
      # the program only sleeps: the idle helper samples it through
      # Thread#backtrace_locations, which names C methods bare ("sleep")
      assert h[:frames].values.any? { |f| f[:name] =~ /\A(Kernel#)?sleep\z/ }, h[:frames].values.map { |f| f[:name] }.inspect
    end
  end
end
